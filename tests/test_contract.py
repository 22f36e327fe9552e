"""One adapter contract: the same scripted conversations on the console, Telegram (PTB's real HTTP stack against
the fake Bot API) and Matrix (a real Synapse), each driven as a person would, each checked as that person sees it.

Typed answers (numbers, labels, « oui »), pressed answers (buttons on Telegram; typing the number elsewhere), a
stale and a double press, /annuler, a restart of the bot in the middle of a form, and a group where a colleague
chats while the coordinator answers the bot. The drivers are in tests/adapters.py; the core's own decisions are
tested on the fake transport in tests/test_engine.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from bot.app import App, feature_routers
from bot.config import Settings
from tests.adapters import (
    ConsoleStage,
    MatrixBot,
    MatrixStage,
    Speaker,
    TelegramSpeaker,
    TelegramStage,
)
from tests.chat import note_router
from tests.fakes.telegram_api import FakeTelegram
from tests.servers.synapse import SynapseServer

PLATFORMS = ("console", "telegram", "matrix")
DESCRIPTION = "Le site des impôts refuse la connexion depuis lundi."
REFERENCE = re.compile(r"S-\d{4}-\d+")
STALE = "Ce choix n'est plus d'actualité."


# --- a group flow: the coordinator's word for a referent, asked in the coordination group ----------------------

NOTES: list[str] = []


ROUTERS = [*feature_routers(), note_router(NOTES)]


# --- the three platforms ----------------------------------------------------------------------------------------

class Stage(Protocol):
    platform: str

    @property
    def app(self) -> App: ...

    async def person(self, role: str = "referent", name: str = "Camille") -> Speaker: ...

    async def group(self, *people: Speaker) -> list[Speaker]: ...

    async def restart(self) -> None: ...


@pytest.fixture(scope="module")
async def matrix_bot(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MatrixBot]:
    """One Matrix bot for the module (logging in and the first sync take a few seconds): a new person per test."""
    bot = MatrixBot(synapse, tmp_path_factory.mktemp("matrix-contract"), routers=ROUTERS)
    await bot.start()
    yield bot
    await bot.stop()


@pytest.fixture(params=PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """The platform's name; Synapse and the Matrix bot are started only when a Matrix test runs."""
    if request.param == "matrix":
        request.getfixturevalue("matrix_bot")
    return str(request.param)


@pytest.fixture
async def stage(platform: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stage]:
    if platform == "matrix":
        matrix = MatrixStage(request.getfixturevalue("synapse"), request.getfixturevalue("matrix_bot"), tmp_path)
        yield matrix
        await matrix.close()
        return
    # Adapter contract, not storage: SQLite (the engine's tests run both databases).
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relais.db'}", data_dir=tmp_path / "data",
                        demo_content=False, rate_limit_per_minute=0, _env_file=None)  # type: ignore[call-arg]
    if platform == "console":
        console = ConsoleStage(settings, ROUTERS, tmp_path / "exports")
        await console.start()
        yield console
        await console.close()
        return
    async with FakeTelegram() as fake:
        telegram = TelegramStage(settings, fake, ROUTERS)
        await telegram.start()
        yield telegram
        await telegram.close()


async def my_reports(person: Speaker) -> set[str]:
    """The references /mes_signalements shows the person."""
    listing = await person.say("/mes_signalements", "Vos signalements")
    return set(REFERENCE.findall(listing.text))


# --- 1. typed answers --------------------------------------------------------------------------------------------

async def test_a_report_answered_by_typing(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/signaler", "Quel type de problème")
    await camille.say("Démarche en ligne", "Dans quelle commune")  # a label typed
    await camille.say("romagne", "Que se passe-t-il")  # a commune, as people type it
    await camille.say(DESCRIPTION, "Quel public")
    await camille.say("1", "Est-ce urgent")  # a number: the first public shown
    summary = await camille.say("urgent", "Votre signalement")
    assert "Romagné" in summary.text and "Seniors" in summary.text and "Urgent" in summary.text
    done = await camille.say("oui", "Merci")
    assert len(REFERENCE.findall(done.text)) == 1
    assert await my_reports(camille) == set(REFERENCE.findall(done.text))  # saved once


# --- 2. pressed answers ------------------------------------------------------------------------------------------

async def test_a_report_answered_by_pressing(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/signaler", "Quel type de problème")
    await camille.press("Démarche en ligne", "Dans quelle commune")
    await camille.press("Romagné", "Que se passe-t-il")
    await camille.say(DESCRIPTION, "Quel public")
    await camille.press("Jeunes", "Est-ce urgent")
    summary = await camille.press("Peut attendre", "Votre signalement")
    assert "Jeunes" in summary.text and "Peut attendre" in summary.text
    done = await camille.press("Envoyer", "Merci")
    await camille.settle()
    if isinstance(camille, TelegramSpeaker):  # the pressed keyboard says what was chosen, once
        assert summary.handle.plain_text.endswith("✓ Envoyer") and not summary.handle.labels
        assert set(camille.popups()) == {""}  # every press answered, silently
    assert await my_reports(camille) == set(REFERENCE.findall(done.text))


# --- 3. stale and double presses ---------------------------------------------------------------------------------

async def test_a_stale_press_changes_nothing(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/nom", "Quel nom")
    summary = await camille.say("Camille Martin", "Votre nom sera")
    await camille.say("Modifier", "Quel nom")  # typed: the flow moves on (on Telegram the keyboard stays)
    mark = camille.mark()
    await camille.press_on(summary, "Confirmer")  # the old question's answer
    if isinstance(camille, TelegramSpeaker):
        await camille.hears(STALE)
        await camille.settle()
        assert camille.popups()[-1] == STALE  # said in the pop-up too, and the keyboard is left as it was
        assert "✓" not in summary.handle.plain_text and summary.handle.labels == ["Confirmer", "Modifier", "Annuler"]
    else:  # typing its old number: read as the name asked now
        await camille.hears("Ce nom n'est pas valable")
        await camille.settle()
    assert len(camille.since(mark)) == 1  # one short answer
    assert "Camille Martin" not in (await camille.say("/moi", "Votre profil")).text


async def test_a_double_press_is_taken_once(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/nom", "Quel nom")
    summary = await camille.say("Camille Martin", "Votre nom sera")
    mark = camille.mark()
    await camille.press_on(summary, "Confirmer")
    await camille.press_on(summary, "Confirmer")  # the impatient second tap (or number typed again)
    await camille.hears("C'est fait")
    await camille.hears("déjà pris en compte")
    await camille.settle()
    said = camille.since(mark)
    assert len(said) == 2 and sum("C'est fait" in s for s in said) == 1, said
    if isinstance(camille, TelegramSpeaker):
        assert summary.handle.plain_text.count("✓") == 1 and summary.handle.plain_text.endswith("✓ Confirmer")
        assert sorted(camille.popups()[-2:]) == ["", "C'est déjà pris en compte (« Confirmer »)."]
    assert "Camille Martin" in (await camille.say("/moi", "Votre profil")).text
    await camille.say("/nom", "Quel nom")
    await camille.say("Camille Durand", "Votre nom sera")
    await camille.say("/annuler", "C'est annulé")
    late = await camille.say("Confirmer", "compris")  # not « déjà pris en compte »: that was another question
    assert "déjà" not in late.text


# --- 4. /annuler -------------------------------------------------------------------------------------------------

async def test_cancel_in_the_middle_and_with_nothing_under_way(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/annuler", "Rien en cours")
    await camille.say("/signaler", "Quel type de problème")
    await camille.press("Démarche en ligne", "Dans quelle commune")
    mark = camille.mark()
    await camille.say("/annuler", "C'est annulé")
    await camille.say("romagne", "Je n'ai pas compris")  # the flow is left: a commune is no answer any more
    await camille.settle()
    assert len(camille.since(mark)) == 2
    await camille.say("/annuler", "Rien en cours")
    await camille.say("/mes_signalements", "pas encore de signalement")  # nothing was sent


# --- 5. a restart in the middle ----------------------------------------------------------------------------------

async def test_a_restart_in_the_middle_of_a_form(stage: Stage) -> None:
    camille = await stage.person()
    await camille.say("/signaler", "Quel type de problème")
    await camille.press("Démarche en ligne", "Dans quelle commune")
    await camille.press("Romagné", "Que se passe-t-il")
    await stage.restart()  # a new App on the same database
    await camille.say(DESCRIPTION, "Quel public")  # the form goes on where it was
    await camille.press("Seniors", "Est-ce urgent")
    summary = await camille.say("2", "Votre signalement")  # a number, after the restart too
    assert "Romagné" in summary.text and "Normal" in summary.text and "impôts" in summary.text
    done = await camille.press("Envoyer", "Merci")
    assert await my_reports(camille) == set(REFERENCE.findall(done.text))


# --- 6. a group where a colleague chats --------------------------------------------------------------------------

@pytest.mark.parametrize("platform", [
    pytest.param("console", marks=pytest.mark.skip(reason="the console is one person in a private chat")),
    "telegram",
    "matrix",
], indirect=True)
async def test_in_a_group_only_the_asked_persons_reply_is_taken(stage: Stage) -> None:
    claire_dm, paul_dm = await stage.person("coordinator", "Claire"), await stage.person("referent", "Paul")
    claire, paul = await stage.group(claire_dm, paul_dm)
    asked = await claire.say("/mot", "Un mot pour le référent ?")
    mark = claire.mark()
    if isinstance(claire, TelegramSpeaker):  # a selective ForceReply, in reply to Claire's command
        assert asked.handle.reply_markup == {"force_reply": True, "selective": True,
                                             "input_field_placeholder": "Votre réponse…"}
        assert asked.handle.reply_to_message_id is not None
    else:
        assert "répondez" in asked.text.lower() or "Claire" in asked.text
    await claire.send("je passe au café, qui veut quelque chose ?")  # to the colleagues, not to the bot
    await paul.send("moi un café !")
    await paul.reply("Un serré pour moi", asked)  # a bystander answering the bot's question: not his to answer
    summary = await claire.answer("Merci pour le signalement, on relance la CAF.", asked, "Note :")
    assert "on relance la CAF" in summary.text and "café" not in summary.text
    await paul.press_on(summary, "Confirmer")  # someone else's prompt: refused, nothing consumed
    if isinstance(paul, TelegramSpeaker):
        await paul.hears("la personne à qui la question est posée")
        assert "✓" not in summary.handle.plain_text
    await claire.press("Confirmer", "Note envoyée.")
    await claire.settle()
    said = claire.since(mark)
    assert sum("Note envoyée." in s for s in said) == 1 and not any("café" in s or "serré" in s for s in said)
    assert NOTES[-1] == "Merci pour le signalement, on relance la CAF."
