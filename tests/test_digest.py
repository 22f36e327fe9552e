"""The weekly digest: on demand, and posted once a week to linked groups, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.members import find_member
from storage.reports import NewReport, create_report
from tests.chat import Chat, FakeTransport
from tests.conftest import joined


async def _report(app: App, user: str, theme: str, insee: str, *, urgent: bool = False, ago: timedelta) -> None:
    async with app.sessions() as session, session.begin():
        member = await find_member(session, "test", user)
        assert member is not None
        new = NewReport(member.id, member.territory_id, theme, insee, "35", "Un problème décrit ici.", "seniors",
                        "urgent" if urgent else "normal", (), f"{user}:{theme}:{ago}")
        await create_report(session, new, app.clock.now() - ago)


async def test_on_demand_digest_counts_themes_communes_and_urgent(app: App, transport: FakeTransport) -> None:
    await joined(app, transport, "referent", "u-dig-ref", territory="35-fougeres")
    coordinator = await joined(app, transport, "coordinator", "u-dig-coord", territory="35-fougeres")
    for days in range(4):
        await _report(app, "u-dig-ref", "demarche", "35243", ago=timedelta(days=days, hours=1))
    await _report(app, "u-dig-ref", "connexion", "35115", urgent=True, ago=timedelta(days=2))
    await _report(app, "u-dig-ref", "demarche", "35243", ago=timedelta(days=9))
    digest = (await coordinator.say("/synthese"))[0]
    assert "5 signalement(s)" in digest.text and "4 de plus" in digest.text
    assert "Démarche en ligne 4" in digest.text and "Romagné (35) 4" in digest.text
    assert "Urgents non résolus : S-2026-" in digest.text
    assert digest.attachment is not None and digest.attachment.data.startswith(b"\x89PNG")
    # RGAA criterion 1: what the chart shows is in the same message as text (screen readers read no image)
    assert "Le graphique en texte" in digest.text
    chart_lines = [x for x in digest.text.splitlines() if x.startswith("- semaine du ")]
    assert sum(int(x.split(" : ")[1].split(" ")[0]) for x in chart_lines) == 6  # the 8 weeks' reports, all of them
    assert any("Connexion" in x for x in chart_lines)
    other = await joined(app, transport, "coordinator", "u-dig-971", territory="971-nord-gt")
    assert "aucun signalement" in (await other.say("/synthese"))[0].text
    assert "hors de votre périmètre" in (await other.say("/synthese 35-fougeres"))[0].text


async def test_weekly_digest_posted_once_per_week_across_a_restart(
    settings: Settings, clock: FrozenClock, transport: FakeTransport
) -> None:
    clock.set(datetime(2026, 3, 13, 12, 0, tzinfo=UTC))  # a Friday
    app = App(settings, clock=clock, transports=[transport])
    await app.prepare()
    coordinator = await joined(app, transport, "coordinator", "u-week", territory="35-fougeres")
    await joined(app, transport, "referent", "u-week-ref", territory="35-fougeres")
    await _report(app, "u-week-ref", "demarche", "35243", ago=timedelta(days=2))
    group = Chat(app, transport, "u-week", chat_id="g-35", is_group=True)
    assert "chaque lundi" in await group.text("/lier_groupe")
    assert coordinator.address.chat_id != "g-35"

    clock.set(datetime(2026, 3, 16, 7, 29, tzinfo=UTC))  # Monday 08:29 in Paris: not yet
    await app.scheduler.tick()
    await app.outbox.run_once()
    assert not [r for r in transport.to("g-35") if "Synthèse" in r.text]
    clock.set(datetime(2026, 3, 16, 7, 31, tzinfo=UTC))
    await app.scheduler.tick()
    await app.scheduler.tick()
    await app.outbox.run_once()
    await app.close()

    restarted = App(settings, clock=clock, transports=[transport])
    await restarted.prepare()
    clock.advance(timedelta(hours=1))
    await restarted.scheduler.tick()
    await restarted.outbox.run_once()
    digests = [r for r in transport.to("g-35") if "Synthèse" in r.text]
    assert len(digests) == 1
    assert "1 signalement(s)" in digests[0].text and digests[0].attachment is not None
    clock.set(datetime(2026, 3, 23, 7, 45, tzinfo=UTC))
    await restarted.scheduler.tick()
    await restarted.outbox.run_once()
    await restarted.close()
    assert len([r for r in transport.to("g-35") if "Synthèse" in r.text]) == 2


async def test_digest_commands_are_for_coordinators(member_chat: Chat) -> None:
    assert "réservée aux coordinateurs" in await member_chat.text("/synthese")


async def test_an_unknown_period_gets_an_example_not_a_silent_default(app: App, transport: FakeTransport) -> None:
    coordinator = await joined(app, transport, "coordinator", "u-dig-period", territory="35-fougeres")
    assert "Je n'ai pas compris « hebdo »" in await coordinator.text("/synthese hebdo")
    assert "Synthèse" in await coordinator.text("/synthese mois 35-fougeres")
    assert "Je n'ai pas compris la date" in await coordinator.text("/synthese depuis la Saint-Glinglin")
