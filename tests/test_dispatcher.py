"""The core's promises: flows persist, typed answers map to choices, errors become a French apology."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App, feature_routers
from bot.clock import FrozenClock
from bot.config import Settings
from bot.events import ChoiceMade, TextReceived
from bot.router import Router
from tests.chat import Chat, FakeTransport
from tests.conftest import joined


async def test_a_flow_answered_by_number_by_label_and_by_button(app: App, member_chat: Chat) -> None:
    await member_chat.say("/nom")
    await member_chat.say("Camille, CCAS de Romagné")
    redo = await member_chat.say("2")
    assert "Quel nom" in redo[0].text
    await member_chat.say("Camille R.")
    await member_chat.say("confirmer")
    assert "Camille R." in (await member_chat.say("/moi"))[0].text
    await member_chat.say("/nom")
    await member_chat.say("Camille B.")
    done = await member_chat.pick("Confirmer")
    assert "Camille B." in done[0].text


async def test_cancel_leaves_the_flow(member_chat: Chat) -> None:
    await member_chat.say("/nom")
    assert "annulé" in (await member_chat.text("/annuler"))
    assert "pas compris" in (await member_chat.text("Un nouveau nom"))


async def test_a_new_command_leaves_the_current_flow(member_chat: Chat) -> None:
    await member_chat.say("/nom")
    assert "Votre profil" in await member_chat.text("/moi")
    assert "pas compris" in await member_chat.text("Camille")


async def test_unknown_command_suggests_the_closest(member_chat: Chat) -> None:
    assert "/nom" in await member_chat.text("/nomm")
    assert "/aide" in await member_chat.text("/xyzzy")


async def test_invalid_answers_get_a_french_message_and_keep_the_step(member_chat: Chat) -> None:
    await member_chat.say("/nom")
    assert "pas valable" in await member_chat.text("1234 !!!")
    assert "pas valable" in await member_chat.text("x" * 500)
    replies = await member_chat.say("Camille")
    assert replies[0].choices
    wrong = await member_chat.say("7")
    assert "Répondez « Confirmer » / « Modifier » / « Annuler »" in wrong[0].text and wrong[0].choices


async def test_stale_buttons_are_refused_politely(app: App, member_chat: Chat) -> None:
    await member_chat.say("/nom")
    await member_chat.say("Camille")
    first_prompt = member_chat.transport.to(member_chat.address.chat_id)[-1].prompt_id
    await member_chat.say("2")
    await member_chat.say("Camille Z.")
    old = ChoiceMade(member_chat.address, first_prompt, "ok", "old-press")
    await app.dispatcher.handle(old)
    assert "plus d'actualité" in member_chat.transport.to(member_chat.address.chat_id)[-1].text


async def test_flows_expire_after_silence(member_chat: Chat, clock: FrozenClock) -> None:
    await member_chat.say("/nom")
    clock.advance(timedelta(days=2))
    assert "expiré" in await member_chat.text("Camille")


async def test_a_retried_update_is_handled_once(app: App, transport: FakeTransport, member_chat: Chat) -> None:
    await member_chat.say("/nom")
    event = TextReceived(member_chat.address, "Camille Double", "same-message-id")
    await app.dispatcher.handle(event)
    await app.dispatcher.handle(event)
    confirmations = [r for r in transport.to(member_chat.address.chat_id) if "Camille Double" in r.text]
    assert len(confirmations) == 1


async def test_an_unexpected_error_becomes_an_apology_with_an_error_id(
    settings: Settings, clock: FrozenClock, transport: FakeTransport
) -> None:
    broken = Router("broken")

    @broken.command("panne")
    async def crash(_event: TextReceived, _ctx: object) -> None:
        raise RuntimeError("boom")

    app = App(settings, clock=clock, transports=[transport], routers=[*feature_routers(), broken])
    await app.prepare()
    try:
        chat = await joined(app, transport, "referent", "u-crash", territory="35-fougeres")
        reply = await chat.text("/panne")
        assert "problème" in reply and "code" in reply
        assert "boom" not in reply and "Traceback" not in reply
        assert "Votre profil" in await chat.text("/moi")
    finally:
        await app.close()
