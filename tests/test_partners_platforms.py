"""Filters and the orientation card through a real platform stack: PTB's HTTP client against the fake Bot API
(buttons pressed, the PNG sent as a photo with the card as its caption)."""

from __future__ import annotations

from pathlib import Path

from storage.structure_import import import_file
from tests.test_telegram import Harness, fake, sqlite_only, tg  # noqa: F401 - fixtures used by name

FIXTURES = Path(__file__).parent / "fixtures"


@sqlite_only
async def test_filters_and_orientation_card_on_telegram(tg: Harness) -> None:  # noqa: F811
    async with tg.app.sessions() as session, session.begin():
        await import_file(session, FIXTURES / "lmn_filters_fougeres.csv", tg.app.clock.now())
    user = tg.fake.user(5801, "Sacha")
    await tg.join(user)
    found = await tg.ask(user, "/partenaires malentendant Fougères", "sourds et malentendants")
    assert "Espace numérique des Sourds" in found.plain_text and "Welcome Desk" not in found.plain_text
    assert found.labels[0] == "Fiche 1"
    sheet = await tg.press(user, "Fiche 1", "Fiche d'orientation")
    assert sheet.method == "sendPhoto" and sheet.photo is not None and sheet.photo.data.startswith(b"\x89PNG")
    assert "Espace numérique des Sourds" in sheet.plain_text and "Plan : https://www.openstreetmap.org/" in (
        sheet.plain_text + "".join(e.get("url", "") for e in sheet.entities))
    assert tg.fake.unanswered_callbacks() == []
