"""A withdrawn report stays withdrawn: a detail opened before the withdrawal cannot bring it back."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.report_stats import grouped_counts, list_reports
from storage.reports import Report, ReportFilter
from storage.territories import subtree_ids
from tests.chat import FakeTransport
from tests.conftest import joined
from tests.test_reports import _report_by_buttons


async def test_resolved_pressed_after_a_withdrawal_is_refused(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-wd-ref", territory="35-fougeres")
    coordinator = await joined(app, transport, "coordinator", "u-wd-coord", territory="35-fougeres")
    reference = (await _report_by_buttons(referent)).split("**")[1]
    await coordinator.say("/signalements")
    await coordinator.pick(f"Traiter {reference}")  # the detail is open on the coordinator's phone…
    await referent.say("/mes_signalements")
    await referent.pick(f"Voir {reference}")
    assert "retiré" in (await referent.pick(f"Retirer {reference}"))[0].text  # …when the author withdraws it
    await coordinator.pick("Résolu")
    refused = await coordinator.text("Sans commentaire")
    assert "retiré par son auteur entre-temps" in refused and reference in refused
    await app.outbox.run_once()
    told = [r.text for r in transport.to("u-wd-ref") if "est résolu" in r.text or "par la coordination" in r.text]
    assert told == []  # nobody is told anything
    async with app.sessions() as session:
        report = (await session.execute(select(Report))).scalar_one()
    assert (report.status, report.resolved_at) == ("withdrawn", None)
    async with app.sessions() as session:  # what the API and its stats read
        scope = ReportFilter(await subtree_ids(session, report.territory_id))
        assert await list_reports(session, scope) == [] and await grouped_counts(session, scope, ["theme"]) == []


async def test_a_withdrawn_report_is_not_listed_even_under_tous(app: App, transport: FakeTransport) -> None:
    """« /signalements tous » lists every status a coordinator works with; a report its author withdrew is not one."""
    referent = await joined(app, transport, "referent", "u-wd-ref2", territory="35-fougeres")
    coordinator = await joined(app, transport, "coordinator", "u-wd-coord2", territory="35-fougeres")
    kept = (await _report_by_buttons(referent)).split("**")[1]
    gone = (await _report_by_buttons(referent)).split("**")[1]
    await referent.say("/mes_signalements")
    await referent.pick(f"Voir {gone}")
    await referent.pick(f"Retirer {gone}")
    listed = "\n".join(r.text for r in await coordinator.say("/signalements tous"))
    assert kept in listed and gone not in listed
