"""The Telegram adapter end to end: the real python-telegram-bot HTTP stack against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot.adapters.telegram.adapter import TelegramTransport, api_urls
from bot.adapters.telegram.render import MAX_TEXT, callback_data, split_text, utf16_len
from bot.config import Settings
from bot.events import Address, Attachment, Choice, ChoiceMade, Delivery, Event, FileReceived, Reply, TextReceived
from bot.outbox import enqueue
from bot.transport import Receipt, TransportError
from storage.groups import GroupLink, group_of
from storage.models import OutboxMessage
from storage.reports import Report
from storage.territories import by_code
from tests.adapters import TELEGRAM_WAIT, TOKEN, Harness, answer, running
from tests.conftest import dump_tables
from tests.fakes.telegram_api import FakeTelegram, FakeUser, Faults, Limits
from tests.fakes.telegram_markup import parse_text
from tests.servers.process import free_port

WAIT = TELEGRAM_WAIT
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000002000000030806000000") + b"\x00" * 40

@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def tg(settings: Settings, fake: FakeTelegram) -> AsyncIterator[Harness]:
    async with running(settings, fake) as harness:
        yield harness


# Adapter behaviour independent of the database: SQLite is enough (overrides conftest's two backends).
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# -- onboarding, help, flows --------------------------------------------------------------------------------


async def test_deep_link_onboarding_help_and_command_menus(tg: Harness) -> None:
    fake = tg.fake
    assert [c["command"] for c in fake.commands["all_private_chats"]][:2] == ["aide", "signaler"]
    assert "signalements" in [c["command"] for c in fake.commands["all_group_chats"]]
    assert all(c["description"] for menu in fake.commands.values() for c in menu)

    stranger = fake.user(5001, "Inès")
    join = await tg.ask(stranger, "Bonjour", "code d'invitation")
    assert "code d'invitation" in join.plain_text

    karim = fake.user(5002, "Karim")
    await tg.join(karim)
    help_ = await tg.ask(karim, "/aide", "Ce que vous pouvez faire")
    assert help_.parse_mode == "HTML" and "/signaler" in help_.plain_text
    assert {"type": "bold", "offset": 0, "length": len("Ce que vous pouvez faire :")} in help_.entities

    before = fake.sent_count(karim.chat_id)
    await karim.share_location(48.3522, -1.1986)  # Fougères
    around = (await tg.answer(karim, before, "lieu")).plain_text  # the partners search around a position
    assert "autour de votre position" in around or "aucun lieu partenaire" in around


async def test_name_and_report_flows_by_buttons(tg: Harness) -> None:
    fake = tg.fake
    camille = fake.user(5101, "Camille")
    await tg.join(camille)

    await tg.ask(camille, "/nom", "Quel nom")
    confirm = await tg.ask(camille, "Zoé <b>&amp; Cie 😀 مرحبا بكم", "C'est bon ?")
    assert "Zoé <b>&amp; Cie 😀 مرحبا بكم" in confirm.plain_text
    assert confirm.labels == ["Confirmer", "Modifier", "Annuler"] and confirm.reply_markup is not None
    assert len(confirm.reply_markup["inline_keyboard"]) == 1  # choices_per_row=2: one row
    done = await tg.press(camille, "Confirmer", "C'est fait")
    assert "vous vous appelez maintenant Zoé <b>&amp; Cie 😀 مرحبا بكم" in done.plain_text
    await fake.wait_for(lambda: confirm.reply_markup is None, WAIT)  # marked once the core accepted the press
    assert confirm.plain_text.endswith("✓ Confirmer")
    await fake.wait_for(lambda: not fake.unanswered_callbacks(), WAIT)  # every press answered

    await tg.ask(camille, "/signaler", "Quel type de problème")
    await tg.press(camille, "Démarche en ligne", "Dans quelle commune")
    await tg.press(camille, "Romagné", "Que se passe-t-il")
    await tg.ask(camille, "Le portail ANTS refuse les dossiers depuis lundi.", "Quel public")
    await tg.press(camille, "Seniors", "Est-ce urgent")
    await tg.press(camille, "Urgent", "Votre signalement")
    saved = await tg.press(camille, "Envoyer", "Merci")
    assert re.search(r"S-\d{4}-", saved.plain_text)
    async with tg.app.sessions() as session:
        report = (await session.execute(select(Report).where(Report.description.contains("portail ANTS")))).scalar_one()
    assert (report.theme, report.commune_insee, report.urgency) == ("demarche", "35243", "urgent")
    await fake.wait_for(lambda: not fake.unanswered_callbacks(), WAIT)  # every press answered


async def test_export_then_forget_leave_no_trace_of_the_telegram_account(tg: Harness) -> None:
    fake = tg.fake
    gwen = fake.user(987654321, "Gwenaëlle")
    await tg.join(gwen)
    before = fake.sent_count(gwen.chat_id)
    await gwen.say("/mes_donnees")
    export = await fake.wait_for(lambda: next((m for m in fake.sent_to(gwen.chat_id)[before:] if m.document), None),
                                 WAIT)
    assert export.document is not None and export.document.name == "mes-donnees-relais.json"
    data = json.loads(export.document.data)
    assert data["profil"]["nom"] == "Gwenaëlle" and data["messageries"][0]["identifiant"] == "987654321"
    await tg.ask(gwen, "/oublier", "Supprimer votre compte")
    await tg.press(gwen, "Oui, supprimer", "votre compte est supprimé")
    await tg.settled()
    dump = await dump_tables(tg.app)
    assert "987654321" not in dump and "Gwenaëlle" not in dump
    assert "code d'invitation" in (await tg.ask(gwen, "/moi", "code d'invitation")).plain_text


@sqlite_only
async def test_group_commands_only_and_replies_in_the_group(tg: Harness) -> None:
    fake = tg.fake
    fake.privacy_mode = False  # the bot as a group admin sees every message: the adapter must filter
    claire = fake.user(5201, "Claire")
    await tg.join(claire, "coordinator")
    await tg.settled()
    in_private = fake.sent_count(claire.chat_id)
    group = fake.group(-100_5200, "Coordination Fougères", "supergroup")

    await group.say(claire, "bonjour à tous")
    await group.say(claire, "/aide@other_bot")
    await group.say(claire, "/aide@relais_test_bot")
    [help_] = await fake.wait_sent(group.chat_id, 1, WAIT)
    assert "Commandes du groupe" in help_.plain_text
    await group.say(claire, "/aide")
    messages = await fake.wait_sent(group.chat_id, 2, WAIT)
    assert len(messages) == 2  # the plain text and the other bot's command were ignored, in order
    assert fake.sent_count(claire.chat_id) == in_private  # the group's answers stay in the group


# -- faults, flood control ----------------------------------------------------------------------------------


@sqlite_only
async def test_faults_every_message_arrives_once_in_order(tg: Harness) -> None:
    fake = tg.fake
    users = [fake.user(5300 + i, f"Membre{i}") for i in range(3)]
    for user in users:
        await tg.join(user)
    await tg.settled()
    joined = {user.chat_id: fake.sent_count(user.chat_id) for user in users}
    fake.faults = Faults(rate_429=0.05, retry_after=1, rate_502=0.05, rate_drop=0.05, seed=7)
    others = [6300 + i for i in range(7)]
    targets = [u.chat_id for u in users] + others
    async with tg.app.sessions() as session, session.begin():
        for k in range(50):
            chat = targets[k % len(targets)]
            await enqueue(session, f"annonce:{k}", Address("telegram", str(chat), ""), Reply(f"Annonce n°{k}"),
                          now=tg.app.clock.now())
    tg.app.outbox.wake()

    async def flow(user: FakeUser) -> None:
        await tg.ask(user, "/nom", "Quel nom")
        await tg.ask(user, f"Nom de {user.user['first_name']}", "C'est bon ?")
        await tg.press(user, "Confirmer", "C'est fait")
        await tg.ask(user, "/aide", "Ce que vous pouvez faire")

    await asyncio.gather(*(flow(user) for user in users))
    await tg.settled()
    await fake.wait_for(lambda: all(fake.sent_count(c) >= 5 for c in others), WAIT)
    assert sum(fake.counts[k] for k in ("429", "502", "drop")) > 5  # the faults did happen
    for chat in targets:
        texts = [m.plain_text for m in fake.sent_to(chat)]
        announces = [t for t in texts if t.startswith("Annonce")]
        assert announces == [f"Annonce n°{k}" for k in range(50) if targets[k % len(targets)] == chat]
    expected = ["Quel nom", "C'est bon ?", "C'est fait", "Ce que vous pouvez faire"]
    for user in users:
        replies = [m.plain_text for m in fake.sent_to(user.chat_id)[joined[user.chat_id]:]
                   if not m.plain_text.startswith("Annonce")]
        assert len(replies) == len(expected), replies  # each answer once
        assert all(marker in reply for marker, reply in zip(expected, replies, strict=True))


@sqlite_only
async def test_blocked_user_is_given_up_at_once(tg: Harness) -> None:
    tg.fake.blocked.add(6400)
    async with tg.app.sessions() as session, session.begin():
        await enqueue(session, "to-blocked", Address("telegram", "6400", ""), Reply("Rappel"),
                      now=tg.app.clock.now())
    tg.app.outbox.wake()
    await tg.settled()
    async with tg.app.sessions() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.key == "to-blocked"))).scalar_one()
    assert row.failed_at is not None and row.attempts == 1 and "blocked" in (row.last_error or "")


@sqlite_only
async def test_a_broadcast_after_a_calm_keeps_to_telegrams_30_per_second(tg: Harness) -> None:
    """Telegram counts 30 messages over any second: a reminder to 90 people, sent by a bot that was quiet (or
    just restarted), must not open with a burst on top of the rate — no 429, each one delivered once."""
    fake = tg.fake
    fake.limits = Limits(global_per_s=30, per_chat_per_s=1, per_group_per_min=20)
    chats = [7_000_000 + i for i in range(90)]
    async with tg.app.sessions() as session, session.begin():
        for chat in chats:
            await enqueue(session, f"calm:{chat}", Address("telegram", str(chat), ""), Reply("Rappel : jeudi 14 h"),
                          now=tg.app.clock.now())
    tg.app.outbox.wake()
    await fake.wait_for(lambda: all(fake.sent_count(c) for c in chats), TELEGRAM_WAIT)
    assert fake.counts["flood_429"] == 0
    assert [fake.sent_count(c) for c in chats] == [1] * len(chats)


@sqlite_only
async def test_a_part_already_shown_is_not_sent_again(tg: Harness) -> None:
    fake, to = tg.fake, Address("telegram", "6500", "")
    reply = Reply("mot " * 2000, attachment=Attachment("liste.csv", "text/csv", b"a;b\n"))  # two texts, a file
    fake.fail_next("502", method="sendDocument")
    with pytest.raises(TransportError):
        await tg.transport.send(Delivery(to, reply))
    assert fake.sent_count(6500) == 2
    await tg.transport.send(Delivery(to, reply))  # what the outbox does next: the same delivery again
    assert [m.method for m in fake.sent_to(6500)] == ["sendMessage", "sendMessage", "sendDocument"]


# -- rendering ----------------------------------------------------------------------------------------------


@sqlite_only
async def test_special_characters_long_texts_and_files(tg: Harness) -> None:
    fake, send = tg.fake, tg.transport.send
    to = Address("telegram", "6600", "6600")
    tricky = "**Écrit** <script> & 5 < 6 > 4 — 👩🏽‍💻 שלום עולם مرحبا _penché_ [lien](https://example.org/a?b=1&c=2)"
    await send(Delivery(to, Reply(tricky)))
    [shown] = fake.sent_to(6600)
    assert shown.plain_text == "Écrit <script> & 5 < 6 > 4 — 👩🏽‍💻 שלום עולם مرحبا penché lien"
    assert {e["type"] for e in shown.entities} == {"bold", "italic", "text_link"}

    words = [f"mot{i}" + ("é" if i % 7 else " 🙂") for i in range(2200)]
    source = "\n\n".join(" ".join(words[i:i + 150]) for i in range(0, len(words), 150))[:10_000].rstrip()
    assert len(source) > 9_990
    await send(Delivery(to, Reply(source, choices=(Choice("ok", "Compris"),), prompt_id="c1")))
    parts = fake.sent_to(6600)[1:]
    assert len(parts) >= 3 and all(utf16_len(p.plain_text) <= MAX_TEXT for p in parts)
    assert [bool(p.reply_markup) for p in parts] == [False] * (len(parts) - 1) + [True]
    position = 0
    for part in parts:  # the parts are the source, in order, cut only at spaces or line breaks
        found = source.index(part.plain_text, position)
        assert source[position:found].strip() == ""
        position = found + len(part.plain_text)
    assert position == len(source)

    await send(Delivery(to, Reply("Export **CSV**", attachment=Attachment("export.csv", "text/csv", b"a;b\n1;2\n"))))
    await send(Delivery(to, Reply("Carte", attachment=Attachment("carte.png", "image/png", PNG))))
    document, photo = fake.sent_to(6600)[-2:]
    assert document.document is not None and document.document.data == b"a;b\n1;2\n"
    assert (document.document.name, document.plain_text) == ("export.csv", "Export CSV")
    assert photo.method == "sendPhoto" and photo.photo is not None and photo.photo.data == PNG


def test_split_keeps_markup_whole_and_parts_valid() -> None:
    source = " ".join(f"**gras numéro {i}** puis _italique {i}_ et [lien {i}](https://e.org/{i})" for i in range(400))
    parts = split_text(source, 1000)
    assert len(parts) > 10 and " ".join(parts) == source
    from bot.markup import to_html

    for part in parts:
        parsed = parse_text(to_html(part), "HTML", limit=1000)
        assert "**" not in parsed.text and "](" not in parsed.text
    assert split_text("x" * 2500, 1000) == ["x" * 1000, "x" * 1000, "x" * 500]


def test_callback_data_never_exceeds_64_bytes() -> None:
    assert callback_data("c1a2b3c4", "ok", 0) == "c1a2b3c4|ok"
    assert callback_data("c1a2b3c4", "é" * 40, 3) == "~3"
    assert api_urls("http://127.0.0.1:8081/bot") == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert api_urls("http://127.0.0.1:8081/") == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")


@sqlite_only
async def test_overlong_choice_id_comes_back_as_its_label(tg: Harness) -> None:
    fake = tg.fake
    user = fake.user(5701, "Léa")
    await tg.join(user)
    await tg.ask(user, "/nom", "Quel nom")
    confirm = await tg.ask(user, "Léa Martin", "C'est bon ?")
    prompt = confirm.buttons[0]["callback_data"].split("|")[0]
    long_choices = (Choice("ok" + "x" * 70, "Confirmer"), Choice("redo" + "y" * 70, "Corriger"))
    await tg.transport.send(Delivery(Address("telegram", str(user.chat_id), ""),
                                     Reply("Encore ?", choices=long_choices, prompt_id=prompt)))
    [again] = fake.sent_to(user.chat_id)[-1:]
    assert [b["callback_data"] for b in again.buttons] == ["~0", "~1"]
    done = await tg.press(user, "Confirmer", "C'est fait")
    assert "Léa Martin" in done.plain_text


@sqlite_only
async def test_stateless_buttons_stay_pressable(tg: Harness) -> None:
    fake = tg.fake
    user = fake.user(5751, "Malo")
    await tg.join(user)
    choices = (Choice("999:202601011400:yes", "Présent"), Choice("999:202601011400:no", "Absent"))
    await tg.transport.send(Delivery(Address("telegram", str(user.chat_id), ""),
                                     Reply("Réunion du réseau jeudi", choices=choices, prompt_id="rsvp")))
    reminder = fake.sent_to(user.chat_id)[-1]
    await tg.press(user, "Présent", "plus prévue")  # an RSVP action of the core (this meeting is unknown)
    assert reminder.edits == 0 and reminder.labels == ["Présent", "Absent"]
    await fake.wait_for(lambda: not fake.unanswered_callbacks(), WAIT)
    assert fake.callback_answers[-1].text == "✓ Présent"


# -- webhook, the real command line -------------------------------------------------------------------------


@sqlite_only
async def test_webhook_mode_checks_the_secret(settings: Settings, fake: FakeTelegram) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with running(settings, fake, webhook_url=url, webhook_listen=f"127.0.0.1:{port}",
                       webhook_secret="s3cret-Token_1") as tg:
        assert fake.webhook is not None and (fake.webhook.url, fake.webhook.secret_token) == (url, "s3cret-Token_1")
        user = fake.user(5801, "Nour")
        join = await tg.ask(user, "bonjour", "code d'invitation")  # the fake POSTs it to the webhook
        assert "code d'invitation" in join.plain_text
        message = user.compose(text="/aide")
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 5}]
        assert await fake.push_webhook({"message": message}) == 200
        await fake.wait_sent(user.chat_id, 2, WAIT)
        async with ClientSession() as http:
            forged = {"update_id": 999_999, "message": user.compose(text="bonjour")}
            async with http.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
                assert r.status == 403
        assert fake.sent_count(user.chat_id) == 2


async def test_relais_run_subprocess(fake: FakeTelegram, tmp_path: Path) -> None:
    env = {**os.environ, "RELAIS_DATABASE_URL": f"sqlite:///{tmp_path / 'relais.db'}",
           "RELAIS_DATA_DIR": str(tmp_path / "data"), "RELAIS_TELEGRAM_TOKEN": TOKEN,
           "RELAIS_TELEGRAM_API_URL": fake.api_url, "RELAIS_LOG_LEVEL": "WARNING"}
    relais = str(Path(sys.executable).with_name("relais"))
    invite = await asyncio.create_subprocess_exec(relais, "invite", "--role", "referent", "--territory", "35-fougeres",
                                                  env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(invite.communicate(), WAIT)
    assert invite.returncode == 0, err
    code = out.decode().strip()
    assert f"https://t.me/relais_test_bot?start={code.replace('-', '')}" in err.decode()

    run = await asyncio.create_subprocess_exec(relais, "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
    try:
        await fake.wait_for(lambda: "all_private_chats" in fake.commands and fake.counts["getUpdates"], WAIT)
        member, stranger = fake.user(5901, "Yanis"), fake.user(5902, "Inès")
        await member.say(f"/start {code.replace('-', '')}")
        await answer(fake, member.chat_id, 0, "Bienvenue Yanis")
        before = fake.sent_count(member.chat_id)
        await member.say("/aide")
        help_ = await answer(fake, member.chat_id, before, "Ce que vous pouvez faire")
        assert "/signaler" in help_.plain_text
        await stranger.say("/aide")
        await answer(fake, stranger.chat_id, 0, "code d'invitation")
    finally:
        if run.returncode is None:
            run.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(run.communicate(), WAIT)
    assert run.returncode == 0, err.decode()[-2000:]


# -- the adapter alone, with a core that answers what the test says (what the core decides is tested elsewhere) --


@dataclass
class Bare:
    fake: FakeTelegram
    transport: TelegramTransport
    events: list[Event]

    async def next_event(self, count: int = 1) -> Event:
        for _ in range(int(WAIT * 100)):
            if len(self.events) >= count:
                return self.events[count - 1]
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no event #{count}; got {self.events}")


@asynccontextmanager
async def bare(fake: FakeTelegram, decide: Callable[[Event], Receipt] = lambda _: Receipt(),
               **options: Any) -> AsyncIterator[Bare]:
    transport = TelegramTransport(TOKEN, api_url=fake.api_url, poll_timeout=1, **options)
    events: list[Event] = []

    async def sink(event: Event) -> Receipt:
        events.append(event)
        return decide(event)

    await transport.start(sink)
    try:
        yield Bare(fake, transport, events)
    finally:
        await transport.stop()
    assert fake.errors == []


async def test_a_refused_press_keeps_its_keyboard_and_says_why(fake: FakeTelegram) -> None:
    """A double tap or a stale button: no « ✓ » then « plus d'actualité »; the pop-up says it, the keyboard stays."""
    presses: list[ChoiceMade] = []

    def decide(event: Event) -> Receipt:
        if not isinstance(event, ChoiceMade):
            return Receipt()
        presses.append(event)
        first_ok = [p.choice_id for p in presses].count("ok") == 1 and event.choice_id == "ok"
        return Receipt() if first_ok else Receipt(False, "Déjà choisi")

    async with bare(fake, decide) as tg:
        user = fake.user(6701, "Lou")
        to = Address("telegram", str(user.chat_id), str(user.id))
        choices = (Choice("ok", "Confirmer"), Choice("redo", "Corriger"))
        await tg.transport.send(Delivery(to, Reply("C'est bon ?", choices=choices, prompt_id="p1")))
        [question] = fake.sent_to(user.chat_id)
        await user.press(question, "Corriger")  # refused by the core (say, a stale prompt)
        await fake.wait_for(lambda: len(fake.callback_answers) == 1, WAIT)
        assert fake.callback_answers[0].text == "Déjà choisi"
        assert question.edits == 0 and question.labels == ["Confirmer", "Corriger"]
        await user.press(question, "Confirmer")
        await user.press(question, "Confirmer")  # the double tap
        await fake.wait_for(lambda: len(fake.callback_answers) == 3 and question.edits == 1, WAIT)
        assert question.plain_text.count("✓") == 1 and question.plain_text.endswith("✓ Confirmer")
        assert sorted(a.text or "" for a in fake.callback_answers[1:]) == ["", "Déjà choisi"]
        await fake.wait_for(lambda: not fake.unanswered_callbacks(), WAIT)  # every press answered


async def test_ten_people_are_answered_side_by_side(tg: Harness) -> None:
    """10 simultaneous /aide from 10 people: all 10 answers are on their way before the first one arrives."""
    fake = tg.fake
    gate = fake.hold("sendMessage")
    people = [fake.user(6800 + i, f"Personne{i}") for i in range(10)]
    for person in people:
        await person.say("/aide")
    await fake.wait_for(lambda: gate.waiting == 10, WAIT)  # one update at a time would hold 1 here
    gate.release()
    for person in people:
        await answer(fake, person.chat_id, 0, "code d'invitation")
    assert gate.arrived == 10


async def test_photos_files_and_voice_notes_reach_the_core(fake: FakeTelegram) -> None:
    async with bare(fake) as tg:
        user = fake.user(6901, "Inès")
        await user.send_photo(PNG, caption="La borne de la mairie")
        photo = await tg.next_event(1)
        assert isinstance(photo, FileReceived) and (photo.kind, photo.data, photo.caption) == (
            "photo", PNG, "La borne de la mairie")
        await user.send_document("erreur.pdf", b"%PDF-1.4 ...", "application/pdf")
        document = await tg.next_event(2)
        assert isinstance(document, FileReceived)
        assert (document.kind, document.name, document.mime, document.data) == (
            "document", "erreur.pdf", "application/pdf", b"%PDF-1.4 ...")
        await user.send_voice(b"OggS" + b"\x00" * 100)
        voice = await tg.next_event(3)
        assert isinstance(voice, FileReceived) and voice.kind == "voice" and voice.size == 104
        tg.transport.max_file_bytes = 10
        await user.send_document("gros.pdf", b"x" * 11, "application/pdf")
        big = await tg.next_event(4)
        assert isinstance(big, FileReceived) and (big.size, big.data) == (11, b"")  # told, not fetched
        group = fake.group(-100_6900, "Coordination", "supergroup")
        await group.member(6902, "Paul").send_photo(PNG)  # a photo shared among colleagues: not for the bot
        await user.say("fin")
        assert isinstance(await tg.next_event(5), TextReceived)
        assert len(tg.events) == 5


async def test_outside_a_flow_a_photo_gets_an_answer(tg: Harness) -> None:
    fake = tg.fake
    user = fake.user(6950, "Yanis")
    await tg.join(user)
    before = fake.sent_count(user.chat_id)
    await user.send_photo(PNG)
    assert "tapez /signaler puis envoyez-la" in (await tg.answer(user, before, "joindre une photo")).plain_text


async def test_a_group_question_with_buttons_also_takes_a_written_reply(fake: FakeTelegram) -> None:
    """« Un mot pour le référent ? [Sans commentaire] » in a group in privacy mode: the buttons, then a line with
    a selective ForceReply for the person asked, so that what they write reaches the bot."""
    async with bare(fake) as tg:
        group = fake.group(-100_7100, "Coordination", "supergroup")
        claire = group.member(7101, "Claire")
        await claire.say("/aide")
        command = await tg.next_event(1)
        question = Reply("Un mot pour le référent ?", choices=(Choice("none", "Sans commentaire"),),
                         expects_answer=True)
        await tg.transport.send(Delivery(command.address, question, reply_to=command.message_id))
        buttons, line = fake.sent_to(group.chat_id)[-2:]
        assert [b["text"] for row in json.loads(buttons.params["reply_markup"])["inline_keyboard"] for b in row] == [
            "Sans commentaire"]
        assert json.loads(line.params["reply_markup"]) == {
            "force_reply": True, "selective": True, "input_field_placeholder": "Votre réponse…"}
        assert line.reply_to_message_id == int(command.message_id) and "répondez à ce message" in line.plain_text
        await claire.say("RDV pris avec la CAF jeudi", reply_to=line)
        answered = await tg.next_event(2)
        assert isinstance(answered, TextReceived) and answered.addressed
        assert answered.text == "RDV pris avec la CAF jeudi"


async def test_groups_topics_mentions_and_questions_awaiting_a_reply(fake: FakeTelegram) -> None:
    async with bare(fake) as tg:
        group = fake.group(-100_7000, "Coordination", "supergroup")
        claire = group.member(7001, "Claire")
        await claire.say("/aide", topic=77)
        command = await tg.next_event(1)
        assert isinstance(command, TextReceived) and command.address.thread_id == "77"
        where = command.address
        await tg.transport.send(Delivery(where, Reply("Un mot pour le référent ?", expects_answer=True),
                                         reply_to=command.message_id))
        asked = fake.sent_to(group.chat_id)[-1]
        assert asked.message_thread_id == 77 and asked.reply_to_message_id == int(command.message_id)
        assert json.loads(asked.params["reply_markup"]) == {
            "force_reply": True, "selective": True, "input_field_placeholder": "Votre réponse…"}
        assert asked.disable_notification  # a group answer does not ring everyone's phone
        await claire.say("je passe au café, qui veut quelque chose ?", topic=77)  # chatter: privacy mode hides it
        await claire.say("Merci pour le dossier", reply_to=asked)
        answered = await tg.next_event(2)
        assert isinstance(answered, TextReceived) and answered.addressed
        assert answered.text == "Merci pour le dossier"
        await claire.say("@relais_test_bot bonjour")
        mention = await tg.next_event(3)
        assert isinstance(mention, TextReceived) and mention.addressed and mention.text == "bonjour"
        await tg.transport.send(Delivery(where, Reply("Rappel : réunion demain", notify=True)))
        assert not fake.sent_to(group.chat_id)[-1].disable_notification
        assert len(tg.events) == 3


@sqlite_only
async def test_anonymous_admins_are_told_why(tg: Harness) -> None:
    fake = tg.fake
    group = fake.group(-100_7100, "Coordination Fougères", "supergroup")
    await group.say_anonymously("/signalements")
    [told] = await fake.wait_sent(group.chat_id, 1, WAIT)
    assert "administrateur anonyme" in told.plain_text and "/signalements" in told.plain_text


@sqlite_only
async def test_anonymous_admins_get_the_linked_groups_digest(tg: Harness) -> None:
    fake = tg.fake
    group = fake.group(-100_7150, "Coordination Fougères", "supergroup")
    await link(tg, str(group.chat_id))
    await group.say_anonymously("/synthese")
    [digest] = await fake.wait_sent(group.chat_id, 1, WAIT)
    assert "Synthèse" in digest.plain_text


@sqlite_only
async def test_anonymous_admins_of_an_unlinked_group_are_told_to_link_it(tg: Harness) -> None:
    fake = tg.fake
    group = fake.group(-100_7160, "Coordination sans lien", "supergroup")
    await group.say_anonymously("/synthese 35-fougeres")  # a territory named: still nothing but a linked digest
    [told] = await fake.wait_sent(group.chat_id, 1, WAIT)
    assert "lié à aucun territoire" in told.plain_text and "Synthèse" not in told.plain_text


async def link(tg: Harness, chat_id: str, territory: str = "35-fougeres") -> int:
    async with tg.app.sessions() as session, session.begin():
        place = await by_code(session, territory)
        assert place is not None
        session.add(GroupLink(platform="telegram", chat_id=chat_id, territory_id=place.id,
                              linked_at=tg.app.clock.now()))
        return place.id


async def queue(tg: Harness, key: str, chat_id: int | str, text: str) -> int | None:
    async with tg.app.sessions() as session, session.begin():
        return await enqueue(session, key, Address("telegram", str(chat_id), "", int(chat_id) < 0), Reply(text),
                             now=tg.app.clock.now())


@sqlite_only
async def test_a_group_upgraded_to_a_supergroup_keeps_its_digest(tg: Harness) -> None:
    fake = tg.fake
    old, new = -7200, -100_7200
    fake.group(old, "Coordination Fougères")
    await link(tg, str(old))
    fake.migrate(old, new, "Coordination Fougères")
    await queue(tg, "digest:1", old, "Synthèse de la semaine")
    await queue(tg, "digest:2", old, "Et la suivante")
    tg.app.outbox.wake()
    await tg.settled()
    assert [m.plain_text for m in fake.sent_to(new)] == ["Synthèse de la semaine", "Et la suivante"]
    async with tg.app.sessions() as session:
        assert await group_of(session, "telegram", str(new)) is not None
        assert await group_of(session, "telegram", str(old)) is None
        failed = (await session.execute(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.failed_at.is_not(None)))).scalar_one()
    assert failed == 0


async def test_removed_from_a_linked_group_the_coordinators_are_told(tg: Harness) -> None:
    fake = tg.fake
    claire = fake.user(7301, "Claire")
    await tg.join(claire, "coordinator")
    await tg.settled()
    group = fake.group(-100_7300, "Coordination Fougères", "supergroup")
    await link(tg, str(group.chat_id))
    fake.kicked.add(group.chat_id)
    before = fake.sent_count(claire.chat_id)
    await queue(tg, "digest:a", group.chat_id, "Synthèse de la semaine")
    await queue(tg, "digest:b", group.chat_id, "Une autre")
    tg.app.outbox.wake()
    told = await tg.answer(claire, before, "Je ne peux plus écrire dans le groupe")
    assert "Fougères" in told.plain_text and not told.disable_notification
    await tg.settled()
    assert fake.counts["sendMessage"] - fake.sent_count(claire.chat_id) - 1 < 100  # tried once, not retried
    assert await queue(tg, "digest:c", group.chat_id, "Encore une") is None  # nothing more is queued for it
    async with tg.app.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.chat_id == str(group.chat_id))
                                      .order_by(OutboxMessage.id))).scalars().all()
    assert [(r.key, r.attempts, r.failed_at is not None) for r in rows] == [("digest:a", 1, True),
                                                                           ("digest:b", 0, True)]
    fake.blocked.add(claire.chat_id)  # the person blocks the bot: a private chat is marked the same way
    await queue(tg, "rappel:1", claire.chat_id, "Rappel")
    tg.app.outbox.wake()
    await tg.settled()
    assert await queue(tg, "rappel:2", claire.chat_id, "Rappel") is None


def test_the_webhook_secret_is_the_same_in_every_process() -> None:
    first, second = TelegramTransport(TOKEN), TelegramTransport(TOKEN)
    assert first.webhook_secret == second.webhook_secret != TelegramTransport("1:other").webhook_secret
    settings = Settings(telegram_token=TOKEN, telegram_webhook_secret="choisi-par-l_equipe",
                        _env_file=None)  # type: ignore[call-arg]
    assert TelegramTransport.from_settings(settings).webhook_secret == "choisi-par-l_equipe"
    with pytest.raises(ValueError, match="telegram_webhook_secret"):
        Settings(telegram_webhook_secret="pas de espaces", _env_file=None)  # type: ignore[call-arg]


async def test_two_processes_polling_make_the_bot_unhealthy(fake: FakeTelegram,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    async with bare(fake) as tg:
        assert tg.transport.healthy()
        async with ClientSession() as http:  # another process polls with the same token
            for _ in range(int(WAIT * 10)):
                async with http.post(f"{fake.api_url}{TOKEN}/getUpdates", data={"timeout": "0"}) as r:
                    await r.read()
                if not tg.transport.healthy():
                    break
                await asyncio.sleep(0.1)
        assert not tg.transport.healthy()
    assert "another process is receiving updates" in caplog.text
