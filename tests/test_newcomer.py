"""Small things a newcomer hit: help that fits a phone, French everywhere people read, INSEE codes checked."""

from __future__ import annotations

import pytest

from bot.app import App
from storage.territories import TerritoryError, add_territory
from tests.chat import FakeTransport
from tests.conftest import joined


async def test_coordinator_help_is_grouped_and_fits_a_phone(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "coordinator", "u-help", territory="35-fougeres")
    text = await chat.text("/aide")
    assert "**Signalements**" in text and "**Réunions**" in text and "**Votre compte**" in text
    assert text.index("**Signalements**") < text.index("**Partenaires**") < text.index("**Réunions**")
    assert len(text.splitlines()) <= 26 and "Exemple" not in text  # examples come with /aide COMMANDE
    detail = await chat.text("/aide signaler")
    assert "/signaler" in detail and "Exemple" in detail
    assert "Je ne connais pas la commande /zzz" in await chat.text("/aide zzz")


async def test_territory_communes_are_checked_against_insee(app: App) -> None:
    async with app.sessions() as session, session.begin():
        with pytest.raises(TerritoryError, match="99999"):
            await add_territory(session, code="x", name="X", now=app.clock.now(), communes=["35115", "99999", "abc"])
        made = await add_territory(session, code="y", name="Y", now=app.clock.now(), communes=["35115", "2A004"])
        assert {c.insee for c in made.communes} == {"35115", "2A004"}
