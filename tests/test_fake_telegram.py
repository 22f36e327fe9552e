"""The fake Telegram Bot API holds up against python-telegram-bot's real HTTP stack."""

from __future__ import annotations

import dataclasses
import datetime as dtm
import html
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.helpers import escape_markdown

from tests.fakes.telegram_api import FakeTelegram, Faults, InvalidUpdate, Limits
from tests.fakes.telegram_markup import MarkupError, parse_text

TOKEN = "123456:TEST-token"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000002000000030806000000") + b"\x00" * 40
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="yes"),
                                  InlineKeyboardButton("Non", callback_data="no")]])


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Bienvenue ! Continuer ?", reply_markup=KEYBOARD)


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Noté")
    await query.edit_message_text(f"Choix : {query.data}")


async def _report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_document(bytes(range(256)) * 400, filename="rapport.csv",
                                                  caption="Votre <b>rapport</b>", parse_mode=ParseMode.HTML)
    await update.effective_message.reply_photo(PNG, filename="carte.png")


async def _received_file(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    data = await (await message.document.get_file()).download_as_bytearray()
    await message.reply_text(f"{message.document.file_name}: {len(data)} octets, {data[:5].decode()}")


async def _location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.location is not None
    location = update.effective_message.location
    await update.effective_message.reply_text(f"{location.latitude} {location.longitude}")


def _application(fake: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    app = ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url).build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("rapport", _report))
    app.add_handler(CallbackQueryHandler(_pressed))
    app.add_handler(MessageHandler(filters.Document.ALL, _received_file))
    app.add_handler(MessageHandler(filters.LOCATION, _location))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    return app


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def polling(fake: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = _application(fake)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    yield app
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.api_url, base_file_url=fake.file_url) as client:
        yield client


def _seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


async def test_text_is_echoed(fake: FakeTelegram, polling: Application) -> None:
    camille = fake.user(42)
    said = await camille.say("Bonjour ! Ça va ?")
    [reply] = await fake.wait_sent(42, 1)
    assert (reply.method, reply.text, reply.chat_id) == ("sendMessage", "Bonjour ! Ça va ?", 42)
    assert reply.message_id > said["message_id"]
    assert fake.counts["getMe"] == 1 and fake.errors == []


async def test_command_carries_its_entity(fake: FakeTelegram, polling: Application) -> None:
    await fake.user(42).say("/start")
    [reply] = await fake.wait_sent(42, 1)
    assert reply.labels == ["Oui", "Non"]
    assert [b["callback_data"] for b in reply.buttons] == ["yes", "no"]

    await fake.user(43).say("/start@other_bot")  # another bot's command: PTB's CommandHandler ignores it
    await fake.user(43).say("/start@relais_test_bot")
    [reply] = await fake.wait_sent(43, 1)
    assert reply.labels == ["Oui", "Non"]


async def test_groups_and_privacy_mode(fake: FakeTelegram, polling: Application) -> None:
    group = fake.group(-1001, "Réseau 33", "supergroup")
    alix = fake.user(7, "Alix")
    await group.say(alix, "bonjour tout le monde")  # privacy mode: the bot never sees this
    await group.say(alix, "/start@other_bot")
    await group.say(7, "/start@relais_test_bot")
    [menu] = await fake.wait_sent(-1001, 1)
    assert menu.labels == ["Oui", "Non"] and fake.counts["privacy_filtered"] == 2
    await group.say(alix, "réponse au bot", reply_to=menu)
    await group.say(alix, "@relais_test_bot tu es là ?")
    echoes = await fake.wait_sent(-1001, 3)
    assert [m.text for m in echoes[1:]] == ["réponse au bot", "@relais_test_bot tu es là ?"]
    await group.press(alix, menu, "no")  # by callback data
    await fake.wait_for(lambda: menu.text == "Choix : no")


async def test_button_press_round_trip(fake: FakeTelegram, polling: Application) -> None:
    camille = fake.user(42)
    await camille.say("/start")
    [menu] = await fake.wait_sent(42, 1)
    query_id = await camille.press(menu, "Oui")
    await fake.wait_for(lambda: menu.edits == 1)
    assert [(a.query_id, a.text) for a in fake.callback_answers] == [(query_id, "Noté")]
    assert (menu.text, menu.reply_markup) == ("Choix : yes", None)  # editing without markup drops it
    assert fake.edits[0].method == "editMessageText" and fake.unanswered_callbacks() == []
    with pytest.raises(LookupError):
        await camille.press(menu, "Non")  # the keyboard is gone


async def test_files_keep_name_mime_and_bytes(fake: FakeTelegram, polling: Application) -> None:
    camille = fake.user(42)
    await camille.say("/rapport")
    document, photo = await fake.wait_sent(42, 2)
    assert document.document is not None and photo.photo is not None
    assert (document.document.name, document.document.mime) == ("rapport.csv", "text/csv")
    assert document.document.data == bytes(range(256)) * 400
    assert (document.caption, document.plain_text) == ("Votre <b>rapport</b>", "Votre rapport")
    assert (photo.method, photo.photo.name, photo.photo.data) == ("sendPhoto", "carte.png", PNG)

    await camille.send_document("liste.txt", b"hello world", "text/plain")
    reply = (await fake.wait_sent(42, 3))[-1]
    assert reply.text == "liste.txt: 11 octets, hello"


async def test_location_is_delivered(fake: FakeTelegram, polling: Application) -> None:
    await fake.user(42).share_location(44.84, -0.58)
    [reply] = await fake.wait_sent(42, 1)
    assert reply.text == "44.84 -0.58"


async def test_injected_429_raises_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("429", retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "un")
    assert _seconds(raised.value.retry_after) == 7
    await bot.send_message(42, "deux")
    fake.faults = Faults(rate_429=1.0, retry_after=3)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "trois")
    assert _seconds(raised.value.retry_after) == 3
    assert [m.text for m in fake.sent] == ["deux"] and fake.counts["429"] == 2


async def test_502_and_dropped_connections_raise_network_errors(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("502")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "perdu")
    fake.fail_next("drop")
    with pytest.raises(NetworkError):
        await bot.send_message(42, "perdu aussi")
    assert fake.sent == []
    fake.fail_next("drop_after")  # processed, then the answer is lost: a retry would duplicate it
    with pytest.raises(NetworkError):
        await bot.send_message(42, "arrivé")
    await bot.send_message(42, "suivant")
    assert [m.text for m in fake.sent] == ["arrivé", "suivant"]
    assert (fake.counts["502"], fake.counts["drop"], fake.counts["drop_after"]) == (1, 1, 1)


async def test_random_faults_are_reproducible(fake: FakeTelegram, bot: Bot) -> None:
    outcomes: list[list[str]] = []
    for _ in range(2):
        fake.faults = Faults(rate_429=0.3, rate_502=0.2, seed=5)
        outcomes.append([])
        for i in range(20):
            try:
                await bot.send_message(42, str(i))
                outcomes[-1].append("ok")
            except RetryAfter:
                outcomes[-1].append("429")
            except NetworkError:
                outcomes[-1].append("502")
    assert outcomes[0] == outcomes[1] and {"ok", "429", "502"} <= set(outcomes[0])


async def test_flood_limits_answer_429(fake: FakeTelegram, bot: Bot) -> None:
    fake.limits = Limits(chat_burst=3)
    for text in ("un", "deux", "trois"):
        await bot.send_message(42, text)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(42, "quatre")
    assert 1 <= _seconds(raised.value.retry_after) <= 3
    await bot.send_message(43, "autre chat")  # the limit is per chat
    fake.limits = Limits(per_group_per_min=2, chat_burst=100)
    fake.group(-5, "Groupe")
    await bot.send_message(-5, "a")
    await bot.send_message(-5, "b")
    with pytest.raises(RetryAfter):
        await bot.send_message(-5, "c")
    fake.limits = Limits(global_per_s=2, chat_burst=100)
    await bot.send_message(1, "x")
    await bot.send_message(2, "y")
    with pytest.raises(RetryAfter):
        await bot.send_message(3, "z")
    assert fake.counts["flood_429"] == 3 and len(fake.sent) == 8


async def test_telegram_refuses_what_it_would_refuse(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(42, "a < b", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)reserved"):
        await bot.send_message(42, "Fin.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(42, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("long", callback_data="x" * 65)]]))
    message = await bot.send_message(42, "<i>a</i> &amp; b", parse_mode=ParseMode.HTML)
    assert message.text == "a & b" and message.entities[0].type == "italic"
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text("<i>a</i> &amp; b", 42, message.message_id, parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)not found"):
        await bot.edit_message_text("y", 42, 999)
    fake.blocked.add(44)
    with pytest.raises(Exception, match="blocked"):
        await bot.send_message(44, "x")


async def test_commands_are_recorded_per_scope(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Commencer")])
    await bot.set_my_commands([BotCommand("annuler", "Annuler")], scope=BotCommandScopeChat(42),
                              language_code="fr")
    assert fake.commands["default"] == [{"command": "start", "description": "Commencer"}]
    assert [c.command for c in await bot.get_my_commands(BotCommandScopeChat(42), "fr")] == ["annuler"]
    await bot.delete_my_commands(BotCommandScopeChat(42), "fr")
    assert list(fake.commands) == ["default"]
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Démarrer", "x")])
    await bot.send_chat_action(42, "typing")
    assert fake.actions == [(42, "typing")]
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")


async def test_webhook_mode(fake: FakeTelegram) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    camille = fake.user(42)
    await camille.say("en attente")  # queued until the webhook is set, then pushed
    app = _application(fake)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook", secret_token="s3cret",
                                    webhook_url=f"http://127.0.0.1:{port}/hook")
    try:
        assert fake.webhook is not None and fake.webhook.secret_token == "s3cret"
        with pytest.raises(Conflict):
            await app.bot.get_updates()
        await camille.say("par webhook")
        replies = await fake.wait_sent(42, 2)
        assert [m.text for m in replies] == ["en attente", "par webhook"]
        await fake.wait_for(lambda: fake.webhook_statuses == [200, 200])
        fake.webhook = dataclasses.replace(fake.webhook, secret_token="wrong")
        assert await fake.push_webhook({"message": camille.compose(text="intrus")}) == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_reset_keeps_a_polling_bot_served(fake: FakeTelegram, polling: Application) -> None:
    await fake.user(42).say("avant")
    await fake.wait_sent(42, 1)
    fake.reset()
    assert fake.sent == [] and fake.counts == {}
    await fake.user(42).say("après")
    [reply] = await fake.wait_sent(42, 1)
    assert reply.text == "après"


async def test_malformed_updates_never_reach_the_bot(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidUpdate, match="date"):
        await fake.enqueue({"message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}})
    with pytest.raises(InvalidUpdate, match="chat_instance"):
        await fake.enqueue({"callback_query": {"id": "1", "from": {"id": 1, "is_bot": False,
                                                                  "first_name": "A"}}})
    assert fake.enqueued_at == {}


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1).filter(str.strip))
def test_text_escaped_by_ptb_is_accepted(text: str) -> None:
    escaped = escape_markdown(text, version=2)
    assert parse_text(f"*{escaped}* {escaped}", "MarkdownV2").text == f"{text} {text}"
    assert parse_text(f"<b>{html.escape(text)}</b>", "HTML").text == text
    code = escape_markdown(text, version=2, entity_type="code")
    assert parse_text(f"`{code}`", "MarkdownV2").text == text


@pytest.mark.parametrize(("text", "mode", "plain"), [
    ('<b>gras</b> <a href="https://x.fr">lien</a> &lt;3', "HTML", "gras lien <3"),
    ("<pre><code class=\"language-py\">x</code></pre>", "HTML", "x"),
    ("*gras* _it_ __sous__ ||sp|| [l](https://x.fr/a\\)b) `c.d` 3\\.5 \\!", "MarkdownV2",
     "gras it sous sp l c.d 3.5 !"),
    (">cité\n>suite\nfin\\.", "MarkdownV2", "cité\nsuite\nfin."),
    ("```python\nprint(1)```", "MarkdownV2", "print(1)"),
    ("*gras* et _it_ [l](https://x.fr)", "Markdown", "gras et it l"),
])
def test_markup_parses_like_telegram(text: str, mode: str, plain: str) -> None:
    assert parse_text(text, mode).text == plain


@pytest.mark.parametrize(("text", "mode"), [
    ("<b>x</i>", "HTML"), ("<b>x", "HTML"), ("<blink>x</blink>", "HTML"), ("<span>x</span>", "HTML"),
    ("a-b", "MarkdownV2"), ("*x", "MarkdownV2"), ("(x)", "MarkdownV2"), ("`x", "MarkdownV2"),
    ("*x", "Markdown"), ("", None),
])
def test_markup_refuses_like_telegram(text: str, mode: str | None) -> None:
    with pytest.raises(MarkupError):
        parse_text(text, mode)
