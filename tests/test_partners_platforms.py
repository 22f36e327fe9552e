"""Filters and the orientation card through real platform stacks: PTB's HTTP client against the fake Bot API
(buttons pressed, the PNG sent as a photo with the card as its caption) and a real Synapse (numbers typed, the
PNG uploaded encrypted)."""

from __future__ import annotations

from pathlib import Path

from nio import RoomEncryptedImage

from bot.config import Settings
from storage.structure_import import import_file
from tests.adapters import ConsoleStage, MatrixBot, MatrixPerson, unique_name
from tests.servers.nio_helpers import make_client
from tests.servers.synapse import SynapseServer
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


async def test_filters_and_orientation_card_on_matrix(synapse: SynapseServer, tmp_path: Path) -> None:
    """The same search typed on Matrix (numbered choices, « 1 » typed), in an encrypted DM: the card comes as a
    notice, then as an encrypted PNG the person can forward."""
    bot = MatrixBot(synapse, tmp_path / "bot")
    await bot.start()
    user_id, token = synapse.register(unique_name("sacha"), "person-password")
    client = await make_client(synapse.url, user_id, token, tmp_path / "sacha")
    try:
        assert bot.app is not None
        async with bot.app.sessions() as session, session.begin():
            await import_file(session, FIXTURES / "lmn_filters_fougeres.csv", bot.app.clock.now())
        sacha = MatrixPerson(client, bot.user_id, token)
        await sacha.open_dm(encrypted=True)
        await sacha.ask(f"!start {await bot.invitation()}", "Bienvenue")
        found = await sacha.ask("!partenaires malentendant Fougères", "sourds et malentendants")
        body = found.source["content"]["body"]
        assert "Espace numérique des Sourds" in body and "Welcome Desk" not in body
        assert "1. Fiche 1" in body
        text = await sacha.ask("1", "Fiche d'orientation")
        assert "Espace numérique des Sourds" in text.source["content"]["body"]
        assert "https://www.openstreetmap.org/" in text.source["content"]["body"]
        image = await sacha.hears(".png")
        assert isinstance(image, RoomEncryptedImage), type(image)
        assert image.mimetype == "image/png"
    finally:
        await bot.stop()
        await client.close()


async def test_filters_and_orientation_card_on_the_console(settings: Settings, tmp_path: Path) -> None:
    """`relais console`: the same words typed, « Fiche 1 » typed by its number; the PNG lands in the console's
    files folder, named in the printed answer."""
    stage = ConsoleStage(settings, None, tmp_path / "fichiers")
    await stage.start()
    try:
        assert stage.app is not None
        async with stage.app.sessions() as session, session.begin():
            await import_file(session, FIXTURES / "lmn_filters_fougeres.csv", stage.app.clock.now())
        sacha = await stage.person()
        found = await sacha.say("/partenaires malentendant Fougères", "sourds et malentendants")
        assert "Espace numérique des Sourds" in found.text and "Welcome Desk" not in found.text
        sheet = await sacha.say(str(found.number("Fiche 1")), "Fiche d'orientation")
        assert "Espace numérique des Sourds" in sheet.text
        pngs = list((tmp_path / "fichiers").glob("*.png"))
        assert len(pngs) == 1 and pngs[0].read_bytes().startswith(b"\x89PNG") and pngs[0].name in sheet.text
    finally:
        await stage.close()
