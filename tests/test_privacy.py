"""RGPD rights and abuse limits: notice, export, erasure that leaves no trace, retention, flood guard."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from bot.app import App
from bot.clock import FrozenClock
from bot.events import ChoiceMade, TextReceived
from bot.flood import FloodGuard
from storage.reports import Report
from tests.chat import FakeTransport
from tests.conftest import dump_tables, joined


async def _report(chat: object) -> None:
    for message in ("/signaler", "1", "Romagné", "Le site des impôts refuse les connexions.", "1", "2", "1"):
        await chat.say(message)  # type: ignore[attr-defined]


async def test_notice_is_shown_at_onboarding_and_on_demand(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-notice", territory="35-fougeres")
    first = transport.to("u-notice")
    assert any("Vos données dans relais" in r.text for r in first)
    notice = await chat.text("/confidentialite")
    assert "24 mois" in notice and "service de coordination de votre département" in notice


async def test_export_gives_everything_held_as_json(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-export", territory="35-fougeres", name="Sandrine Export")
    await _report(chat)
    reply = (await chat.say("/mes_donnees"))[0]
    assert reply.attachment is not None and reply.attachment.mime == "application/json"
    data = json.loads(reply.attachment.data)
    assert data["profil"]["nom"] == "Sandrine Export"
    assert data["messageries"][0]["identifiant"] == "u-export"
    assert data["signalements"][0]["reference"].startswith("S-")


async def test_forget_me_erases_name_and_platform_ids_everywhere(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-forget-7731", territory="35-fougeres", name="Gwenaëlle Oublie")
    await _report(chat)
    await chat.say("/nom")  # leave a flow open too
    await chat.say("/oublier")
    assert "supprimé" in (await chat.pick("Oui, supprimer"))[0].text
    dump = await dump_tables(app)
    assert "Gwenaëlle" not in dump and "u-forget-7731" not in dump
    async with app.sessions() as session:
        kept = (await session.execute(text("select author_id, anonymised_at from report"))).all()
    assert len(kept) == 1 and kept[0][0] is None and kept[0][1] is not None
    assert "code d'invitation" in await chat.text("/moi")


async def test_a_coordinator_erases_a_member_who_left(app: App, transport: FakeTransport) -> None:
    await joined(app, transport, "referent", "u-left-4410", territory="35-fougeres", name="Yannick Parti")
    outsider = await joined(app, transport, "referent", "u-stay-971", territory="971-nord-gt", name="Joëlle Reste")
    coordinator = await joined(app, transport, "coordinator", "u-coord-rm", territory="35-fougeres")
    choices = (await coordinator.say("/retirer_membre"))[0].choices
    labels = [c.label for c in choices]
    assert "Yannick Parti" in labels and "Joëlle Reste" not in labels
    await coordinator.pick("Yannick Parti")
    await coordinator.pick("Oui, supprimer")
    dump = await dump_tables(app)
    assert "Yannick" not in dump and "u-left-4410" not in dump and "Joëlle Reste" in dump
    assert "Votre profil" in await outsider.text("/moi")


async def test_retention_anonymises_old_reports_and_purges_stale_rows(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    chat = await joined(app, transport, "referent", "u-old", territory="35-fougeres")
    await _report(chat)
    await chat.say("/nom")
    clock.advance(timedelta(days=30 * 25))
    await app.scheduler.tick()
    async with app.sessions() as session:
        report = (await session.execute(text("select author_id, anonymised_at from report"))).one()
        conversations = (await session.execute(text("select count(*) from conversation"))).scalar_one()
        invitations = (await session.execute(text("select count(*) from invitation"))).scalar_one()
    assert report[0] is None and report[1] is not None
    assert conversations == 0 and invitations == 0
    assert Report.__tablename__ == "report"


async def test_flood_guard_warns_once_then_stays_silent(app: App, transport: FakeTransport,
                                                        clock: FrozenClock) -> None:
    chat = await joined(app, transport, "referent", "u-flood", territory="35-fougeres")
    limit = 30
    app.dispatcher.flood = FloodGuard(limit)
    before = len(transport.to("u-flood"))
    for i in range(limit + 10):
        await app.dispatcher.handle(TextReceived(chat.address, "/moi", f"flood-{i}"))
    answers = [r.text for r in transport.to("u-flood")[before:]]
    assert sum("Patientez une minute" in a for a in answers) == 1
    assert len(answers) <= limit + 1
    clock.advance(timedelta(minutes=2))
    assert "Votre profil" in await chat.text("/moi")


async def test_overlong_messages_get_a_clear_limit(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-long", territory="35-fougeres")
    assert "4000 caractères" in await chat.text("a" * 5000)


async def test_removal_only_of_lower_roles_in_ones_subtree(app: App, transport: FakeTransport) -> None:
    await joined(app, transport, "admin", "u-rm-admin", territory="35-fougeres", name="Alice Admin")
    await joined(app, transport, "coordinator", "u-rm-peer", territory="35-fougeres", name="Paul Pair")
    await joined(app, transport, "referent", "u-rm-ref", territory="35-fougeres", name="Rémi Référent")
    coordinator = await joined(app, transport, "coordinator", "u-rm-coord", territory="35-fougeres")
    labels = [c.label for c in (await coordinator.say("/retirer_membre"))[0].choices]
    assert "Rémi Référent" in labels and "Alice Admin" not in labels and "Paul Pair" not in labels
    for name in ("Alice Admin", "Paul Pair"):  # typed, or a forged button press: refused all the same
        assert "Aucun membre que vous pouvez retirer" in await coordinator.text(name)
    async with app.sessions() as session:
        admin_id = (await session.execute(text("select id from member where display_name = 'Alice Admin'"))).scalar()
    prompt = transport.to("u-rm-coord")[-1].prompt_id or next(r.prompt_id for r in reversed(
        transport.to("u-rm-coord")) if r.prompt_id)
    await app.dispatcher.handle(ChoiceMade(coordinator.address, prompt, str(admin_id), "forged-1"))
    dump = await dump_tables(app)
    assert "Alice Admin" in dump and "Paul Pair" in dump


async def test_removal_finds_the_right_member_among_many(app: App, transport: FakeTransport) -> None:
    for i in range(1, 26):
        await joined(app, transport, "referent", f"u-many-{i:02d}", territory="35-fougeres", name=f"Referent {i:02d}")
    coordinator = await joined(app, transport, "coordinator", "u-many-coord", territory="35-fougeres")
    first = (await coordinator.say("/retirer_membre"))[0]
    assert "1–8 sur" in first.text and any(c.label.startswith("Suivants") for c in first.choices)
    confirm = await coordinator.text("Referent 24")  # not on the page shown: searched, never « Referent 02 »
    assert "**Referent 24**" in confirm
    await coordinator.pick("Non, garder")
    direct = await coordinator.text("/retirer_membre referent 7")
    assert "**Referent 07**" in direct
    await coordinator.pick("Oui, supprimer")
    pages = [await coordinator.say("/retirer_membre")]
    while any(c.id == "next" for c in pages[-1][0].choices):
        pages.append(await coordinator.pick("Suivants"))
    seen = [c.label for page in pages for c in page[0].choices if c.label.startswith("Referent")]
    assert len(seen) == 24 == len(set(seen)) and "Referent 07" not in seen and "Referent 25" in seen
    assert "Referent 07" not in await dump_tables(app)
