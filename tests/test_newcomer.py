"""Small things a newcomer hit: help that fits a phone, French everywhere people read, INSEE codes checked."""

from __future__ import annotations

import pytest

from bot.app import App
from storage.territories import TerritoryError, add_territory
from tests.chat import Chat, FakeTransport
from tests.conftest import joined


async def test_coordinator_help_is_grouped_and_fits_a_phone(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "coordinator", "u-help", territory="35-fougeres")
    text = await chat.text("/aide")
    assert "**Signalements :** /signaler · /mes_signalements · /signalements · /alertes" in text
    assert text.index("**Signalements") < text.index("**Partenaires") < text.index("**Réunions")
    assert len(text.splitlines()) <= 8 and "Exemple" not in text  # examples come with /aide COMMANDE
    detail = await chat.text("/aide signaler")
    assert "/signaler" in detail and "Exemple" in detail
    assert "Je ne connais pas la commande /zzz" in await chat.text("/aide zzz")


async def test_territory_communes_are_checked_against_insee(app: App) -> None:
    async with app.sessions() as session, session.begin():
        with pytest.raises(TerritoryError, match="99999"):
            await add_territory(session, code="x", name="X", now=app.clock.now(), communes=["35115", "99999", "abc"])
        made = await add_territory(session, code="y", name="Y", now=app.clock.now(), communes=["35115", "2A004"])
        assert {c.insee for c in made.communes} == {"35115", "2A004"}


async def _one_report(app: App, transport: FakeTransport) -> str:
    referent = await joined(app, transport, "referent", "u-rep", territory="35-fougeres")
    await referent.say("/signaler la CAF bloque les dossiers des seniors à Romagné, urgent")
    return (await referent.pick("Envoyer"))[0].text.split("**")[1]


async def test_signalements_says_what_it_did_not_understand_and_opens_a_reference(
    app: App, transport: FakeTransport
) -> None:
    reference = await _one_report(app, transport)
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres")
    unknown = await claire.say("/signalements blabla")
    assert "Je n'ai pas compris « blabla »" in unknown[0].text and reference in unknown[-1].text
    opened = (await claire.say(f"/signalements {reference}"))[-1]
    assert opened.text.startswith(f"**{reference}") or reference in opened.text.splitlines()[0]
    assert "Pris en compte" in [c.label for c in opened.choices]


async def test_report_details_never_go_to_an_unlinked_group(app: App, transport: FakeTransport) -> None:
    reference = await _one_report(app, transport)
    await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres")
    group = Chat(app, transport, "u-claire", chat_id="group-x", is_group=True)
    group._message = 1000
    refused = await group.text("/signalements")
    assert "relié à votre territoire" in refused and reference not in refused
    await group.say("/lier_groupe")
    assert reference in await group.text("/signalements")


async def test_synthese_refuses_a_start_in_the_future(app: App, transport: FakeTransport) -> None:
    claire = await joined(app, transport, "coordinator", "u-future", territory="35-fougeres")
    tomorrow = await claire.text("/synthese depuis demain")
    assert "est à venir" in tomorrow and "Du " not in tomorrow
    assert "est à venir" in await claire.text("/synthese depuis le 1er janvier 2027")
    assert "Synthèse" in await claire.text("/synthese depuis le 1er mars")


async def test_an_admin_tells_the_networks_meetings_apart(app: App, transport: FakeTransport) -> None:
    from storage.demo import seed_demo_meetings

    async with app.sessions() as session, session.begin():
        await seed_demo_meetings(session, app.clock.now())
    admin = await joined(app, transport, "admin", "u-admin-meet", territory="35")
    listed = (await admin.say("/reunions"))[-1]
    labels = [c.label for c in listed.choices]
    assert len(labels) == len(set(labels)) >= 2, labels
    assert any("Pays de Fougères" in label for label in labels)
