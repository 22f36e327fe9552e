"""The conversation engine as people really use it: typing instead of tapping, numbers, double taps, groups where
colleagues chat, commands in the middle of a form (issue « one conversation engine that holds »)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import App, feature_routers
from bot.clock import FrozenClock
from bot.config import Settings
from bot.events import Reply
from storage.reports import Report
from tests.chat import Chat, FakeTransport, note_router
from tests.conftest import joined


async def _reports(app: App) -> list[Report]:
    async with app.sessions() as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def _to_summary(chat: Chat) -> list[Reply]:
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    await chat.pick("Romagné")
    await chat.say("Le site des impôts refuse la connexion depuis lundi.")
    await chat.pick("Seniors")
    return await chat.pick("Normal")


# --- typing instead of tapping --------------------------------------------------------------------------------

async def test_typed_oui_at_the_summary_sends_the_report(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-oui", territory="35-fougeres")
    summary = await _to_summary(chat)
    assert [c.label for c in summary[-1].choices] == ["Envoyer", "Modifier", "Annuler"]
    sent = await chat.say("oui")
    assert "Merci" in sent[0].text and len(await _reports(app)) == 1


@pytest.mark.parametrize(("typed", "urgency"), [("oui", "urgent"), ("Oui !", "urgent"), ("non", "normal"),
                                                ("nan", "normal"), ("non pas urgent", "low")])
async def test_oui_or_non_answers_est_ce_urgent(app: App, transport: FakeTransport, typed: str,
                                                 urgency: str) -> None:
    """« Est-ce urgent ? » is a yes/no question to a person: « non » means not urgent, « oui » urgent (both used
    to be refused, then the draft lost at the next command)."""
    chat = await joined(app, transport, "referent", "u-urgent", territory="35-fougeres")
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    await chat.pick("Romagné")
    await chat.say("Le site des impôts refuse la connexion depuis lundi.")
    asked = await chat.pick("Seniors")
    assert "Est-ce urgent" in asked[-1].text
    summary = await chat.say(typed)
    assert "On l'envoie" in summary[-1].text or "Envoyer" in [c.label for c in summary[-1].choices]
    await chat.say("oui")
    assert [r.urgency for r in await _reports(app)] == [urgency]


async def test_a_question_asked_again_keeps_its_buttons_valid(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-again", territory="35-fougeres")
    summary = (await _to_summary(chat))[-1]
    again = await chat.say("euh je sais pas")  # neither a button nor a word it knows
    assert "Répondez" in again[0].text and again[0].choices
    assert again[0].prompt_id == summary.prompt_id  # the buttons shown before still answer
    sent = await chat.press(summary.prompt_id, "send")  # the OLD keyboard
    assert chat.receipt.accepted and "Merci" in sent[0].text
    assert len(await _reports(app)) == 1


async def test_typing_the_number_or_the_label_after_a_reshown_question(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-typed", territory="35-fougeres")
    await _to_summary(chat)
    await chat.say("n'importe quoi")
    assert "Merci" in (await chat.say("Envoyer"))[0].text


# --- numbers refer to what was last shown ------------------------------------------------------------------------

async def test_after_an_error_the_list_shown_just_before_still_answers_by_number(
    app: App, transport: FakeTransport
) -> None:
    chat = await joined(app, transport, "referent", "u-numbers", territory="35-fougeres")
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    question = (await chat.say("Zorglubville"))[-1]  # not a commune: said so, the suggestions stay
    assert "Je ne trouve pas" in question.text
    first = next(c.label for c in transport.to(chat.address.chat_id)[-2].choices)
    after = await chat.say("1")
    assert "Que se passe-t-il" in after[-1].text  # « 1 » took the first commune suggested
    await chat.say("Le site des impôts refuse la connexion depuis lundi.")
    await chat.pick("Seniors")
    summary = await chat.pick("Normal")
    assert first in summary[-1].text


# --- double and stale presses ---------------------------------------------------------------------------------

async def test_a_double_tap_is_answered_once_and_not_marked_chosen(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-double", territory="35-fougeres")
    summary = (await _to_summary(chat))[-1]
    await chat.press(summary.prompt_id, "send")
    assert chat.receipt.accepted
    second = await chat.press(summary.prompt_id, "send")
    assert not chat.receipt.accepted and "déjà pris en compte" in chat.receipt.notice
    assert "déjà pris en compte (« Envoyer »)" in second[0].text
    assert "déjà pris en compte" in (await chat.say("Envoyer"))[0].text  # typed again: not « pas compris »
    assert len(await _reports(app)) == 1


async def test_a_stale_press_is_refused_without_changing_anything(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-stale", territory="35-fougeres")
    summary = (await _to_summary(chat))[-1]
    await chat.say("/annuler")
    reply = await chat.press(summary.prompt_id, "edit")
    assert not chat.receipt.accepted and reply[0].text == "Ce choix n'est plus d'actualité."
    assert not await _reports(app)


# --- forms -----------------------------------------------------------------------------------------------------

async def test_one_sentence_report_keeps_public_and_urgency(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-oneline", territory="35-fougeres")
    replies = await chat.say("/signaler les impôts en ligne bloquent les seniors à Fougères, urgent")
    summary = replies[-1].text
    assert "Votre signalement" in summary and "Seniors" in summary and "Urgent" in summary


async def test_nom_with_its_argument_goes_straight_to_confirmation(app: App, member_chat: Chat) -> None:
    replies = await member_chat.say("/nom Camille Martin")
    assert "Camille Martin" in replies[-1].text and replies[-1].choices
    await member_chat.say("oui")
    assert "Camille Martin" in (await member_chat.say("/moi"))[0].text


async def test_cancel_with_nothing_under_way_says_so(member_chat: Chat) -> None:
    assert "Rien en cours" in await member_chat.text("/annuler")
    await member_chat.say("/nom")
    assert "annulé" in await member_chat.text("/annuler")


async def test_a_command_in_the_middle_of_a_form_says_the_draft_is_dropped(
    app: App, transport: FakeTransport
) -> None:
    chat = await joined(app, transport, "coordinator", "u-draft", territory="35-fougeres")
    await chat.say("/ajouter_partenaire")
    await chat.say("Espace numérique des Landes")
    replies = await chat.say("/aide")
    assert "saisie en cours a été abandonnée" in replies[0].text
    assert "abandonnée" not in (await chat.say("/aide"))[0].text  # nothing under way any more


async def test_the_meeting_date_example_is_a_real_date_from_today(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "coordinator", "u-example", territory="35-fougeres")
    await chat.say("/reunion")
    question = (await chat.pick("Réunion trimestrielle du réseau"))[-1].text
    example = question.split("Par exemple : ")[1].strip()
    after = await chat.say(example)
    assert "Combien de temps" in after[-1].text  # the bot's own example is accepted: next question


# --- groups ---------------------------------------------------------------------------------------------------

@pytest.fixture
async def group_app(settings: Settings, clock: FrozenClock, transport: FakeTransport) -> AsyncIterator[App]:
    app = App(settings, clock=clock, transports=[transport], routers=[*feature_routers(), note_router([])])
    await app.prepare()
    yield app
    await app.close()


async def _in_group(app: App, transport: FakeTransport, role: str, user: str, name: str) -> Chat:
    await joined(app, transport, role, user, territory="35-fougeres", name=name)
    group = Chat(app, transport, user, chat_id="group-1", is_group=True, name=name)
    group._message = 1000  # message ids of this chat, apart from the private chat's
    return group


async def test_in_a_group_only_the_asked_persons_reply_is_an_answer(group_app: App, transport: FakeTransport) -> None:
    claire = await _in_group(group_app, transport, "coordinator", "u-claire", "Claire")
    question = (await claire.say("/mot"))[-1]
    assert question.expects_answer  # Telegram: selective ForceReply; Matrix: « répondez à ce message »
    assert await claire.say("je passe au café, qui veut quelque chose ?", addressed=False) == []
    bystander = await _in_group(group_app, transport, "referent", "u-paul", "Paul")
    assert await bystander.say("moi un café !", addressed=False) == []
    summary = await claire.say("Merci pour le signalement, on relance la CAF.")
    assert "on relance la CAF" in summary[-1].text
    refused = await bystander.press(summary[-1].prompt_id, "send")
    assert not bystander.receipt.accepted and "la personne à qui la question est posée" in refused[0].text
    done = await claire.press(summary[-1].prompt_id, "send")  # the bystander's press consumed nothing
    assert done[0].text == "Note envoyée."


async def test_an_unknown_command_in_a_group_is_left_to_other_bots(group_app: App, transport: FakeTransport) -> None:
    private = await joined(group_app, transport, "coordinator", "u-claire2", territory="35-fougeres")
    claire = Chat(group_app, transport, "u-claire2", chat_id="group-2", is_group=True)
    assert await claire.say("!meteo Fougères") == []
    assert "Je ne connais pas la commande" in await private.text("/meteo")


async def test_a_photo_outside_a_flow_gets_a_short_answer(app: App, member_chat: Chat) -> None:
    replies = await member_chat.send_file("photo")
    assert replies and "tapez /signaler puis envoyez-la" in replies[0].text
