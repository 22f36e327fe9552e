"""Text is cleaned at the edge: a NUL byte or an invisible character never reaches the database (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.cleaning import clean_text
from storage.models import Member
from storage.reports import Report
from tests.chat import Chat, FakeTransport
from tests.conftest import joined
from tests.test_onboarding import _invite


def test_clean_text_drops_controls_and_invisibles_and_normalises() -> None:
    assert clean_text("a\x00b\x07c\x1b[31m\x85d") == "abc[31md"
    assert clean_text("ligne 1\r\nligne 2\tfin") == "ligne 1\nligne 2\tfin"
    assert clean_text("\u200b\u200c\u200d\u2060\ufeff") == ""
    assert clean_text("Romagne\u0301") == "Romagné"  # decomposed accent -> one character (NFC)


async def test_a_description_with_a_nul_byte_is_saved(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-nul", territory="35-fougeres")
    await referent.say("/signaler")
    await referent.pick("Démarche en ligne")
    await referent.pick("Romagné")
    await referent.say("Le site\x00 de la CAF refuse\u200b les connexions depuis lundi.")
    await referent.pick("Seniors")
    await referent.pick("Normal")
    sent = (await referent.pick("Envoyer"))[0].text
    assert "indisponible" not in sent and "S-2026-" in sent
    async with app.sessions() as session:
        saved = (await session.execute(select(Report.description))).scalar_one()
    assert saved == "Le site de la CAF refuse les connexions depuis lundi."


async def test_a_zero_width_description_is_empty(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-zw", territory="35-fougeres")
    await referent.say("/signaler")
    await referent.pick("Démarche en ligne")
    await referent.pick("Romagné")
    answer = await referent.text("\u200b" * 30)
    assert "un peu court" in answer


async def test_name_and_start_with_nul_bytes(app: App, transport: FakeTransport) -> None:
    code = await _invite(app)
    chat = Chat(app, transport, "u-nul-start", name="Na\x00dia\u200b")
    welcome = await chat.say(f"/start {code}\x00")
    assert "Bienvenue Nadia" in welcome[0].text
    await chat.say("/nom")
    await chat.say("Nadia\x00 Ben\x00ali")
    done = await chat.pick("Confirmer")
    assert "indisponible" not in done[0].text
    async with app.sessions() as session:
        names = list((await session.execute(select(Member.display_name))).scalars())
    assert "Nadia Benali" in names and not any("\x00" in n or "\u200b" in n for n in names)
