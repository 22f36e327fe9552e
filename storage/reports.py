"""Field reports (signalements): the table and its queries; the author link is dropped on anonymisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, str40, utc

STATUSES = ("new", "acknowledged", "resolved", "withdrawn")
EVENT_KINDS = ("acknowledged", "resolved", "withdrawn", "note", "alerted", "reopened")
REOPEN_DELAY = timedelta(days=30)  # the author may say « toujours d'actualité » this long after resolution
URGENCIES = ("low", "normal", "urgent")


class Report(Base):
    __tablename__ = "report"
    __table_args__ = (Index("ix_report_territory_created", "territory_id", "created_at"),)

    id: Mapped[intpk]
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    theme: Mapped[str40]
    commune_insee: Mapped[str] = mapped_column(String(5), index=True)
    departement: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    public: Mapped[str40]
    urgency: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    masked: Mapped[list[str]] = mapped_column(JSON, default=list)  # kinds of personal data removed
    created_at: Mapped[utc] = mapped_column(index=True)
    updated_at: Mapped[utc]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)  # the coordinator's answer
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    anonymised_at: Mapped[datetime | None]
    submit_key: Mapped[str] = mapped_column(String(80), unique=True)  # one report per « Envoyer »
    # Urgent reports: when the coordinators' alert was queued (same transaction as the queuing: sent once).
    alerted_at: Mapped[datetime | None]


class ReportEvent(Base):
    """One step of a report's history: a status change, a coordinator's note, an alert, a reopening."""

    __tablename__ = "report_event"

    id: Mapped[intpk]
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    at: Mapped[utc]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # EVENT_KINDS
    note: Mapped[str | None] = mapped_column(Text)  # masked before storage, like the description


@dataclass(frozen=True, slots=True)
class NewReport:
    author_id: int
    territory_id: int
    theme: str
    commune_insee: str
    departement: str
    description: str
    public: str
    urgency: str
    masked: tuple[str, ...]
    submit_key: str


async def create_report(session: AsyncSession, new: NewReport, now: datetime) -> Report:
    """Save a report and give it its human reference S-<year>-<number>; the same submit_key saves once."""
    existing = (await session.execute(select(Report).where(Report.submit_key == new.submit_key))).scalar_one_or_none()
    if existing:
        return existing
    values: dict[str, Any] = asdict(new)
    values["masked"] = list(new.masked)
    report = Report(**values, reference="S-pending", status="new", created_at=now, updated_at=now)
    session.add(report)
    await session.flush()
    report.reference = f"S-{now.year}-{report.id:05d}"
    return report


async def by_reference(session: AsyncSession, reference: str) -> Report | None:
    query = select(Report).where(Report.reference == reference.strip().upper())
    return (await session.execute(query)).scalar_one_or_none()


async def of_author(session: AsyncSession, author_id: int, limit: int = 10) -> list[Report]:
    query = (select(Report).where(Report.author_id == author_id, Report.status != "withdrawn")
             .order_by(Report.id.desc()).limit(limit))
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """The one way to select reports (follow-up lists, the API, its CSV and counts, the digest). Withdrawn reports
    are left out unless their status is asked for by name."""

    territory_ids: Sequence[int] | None = None  # None: every territory (admins)
    statuses: Sequence[str] = ()  # (): every status but withdrawn
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    theme: str | None = None
    commune_insee: str | None = None
    urgency: str | None = None

    def where(self, query: Any) -> Any:
        """`query` (any Select over report) narrowed to the reports this filter selects."""
        if self.territory_ids is not None:
            query = query.where(Report.territory_id.in_(self.territory_ids))
        query = query.where(Report.status.in_(self.statuses) if self.statuses else Report.status != "withdrawn")
        if self.since is not None:
            query = query.where(Report.created_at >= self.since)
        if self.until is not None:
            query = query.where(Report.created_at < self.until)
        equal = {Report.theme: self.theme, Report.commune_insee: self.commune_insee, Report.urgency: self.urgency}
        for column, value in equal.items():
            if value is not None:
                query = query.where(column == value)
        return query


async def find_reports(session: AsyncSession, f: ReportFilter, *, offset: int = 0, limit: int = 5) -> list[Report]:
    """Urgent first, then the oldest waiting: what a coordinator should look at first."""
    urgent_first = (Report.urgency == "urgent").desc()
    query = f.where(select(Report)).order_by(urgent_first, Report.created_at, Report.id)
    return list((await session.execute(query.offset(offset).limit(limit))).scalars())


async def count_reports(session: AsyncSession, f: ReportFilter) -> int:
    return int((await session.execute(f.where(select(func.count(Report.id))))).scalar_one())


async def set_status(session: AsyncSession, report: Report, status: str, *, now: datetime, by: int | None,
                     comment: str | None = None) -> bool:
    """Move a report to `status`; False (nothing changed) when it was withdrawn: a withdrawal is final."""
    await session.refresh(report, ["status"])  # a detail opened earlier must not act on a stale status
    if report.status == "withdrawn" or status not in STATUSES:
        return False
    report.status, report.updated_at, report.handled_by = status, now, by
    if comment:
        report.comment = comment
    if status == "acknowledged":
        report.acknowledged_at = report.acknowledged_at or now
    elif status == "resolved":
        report.acknowledged_at = report.acknowledged_at or now
        report.resolved_at = now
    elif status == "withdrawn":
        report.withdrawn_at = now
    return True


# --- history ------------------------------------------------------------------------------------------------


async def add_event(session: AsyncSession, report: Report, kind: str, *, now: datetime, by: int | None,
                    note: str | None = None) -> None:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown report event {kind}")
    session.add(ReportEvent(report_id=report.id, at=now, actor_id=by, kind=kind, note=note))


async def history(session: AsyncSession, report_id: int) -> list[ReportEvent]:
    query = select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.at, ReportEvent.id)
    return list((await session.execute(query)).scalars())


async def page_of_author(session: AsyncSession, author_id: int, *, offset: int, limit: int) -> tuple[list[Report], int]:
    """One page of an author's reports, newest first, and how many there are in all."""
    mine = (Report.author_id == author_id, Report.status != "withdrawn")
    total = int((await session.execute(select(func.count(Report.id)).where(*mine))).scalar_one())
    query = select(Report).where(*mine).order_by(Report.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(query)).scalars()), total


def can_reopen(report: Report, now: datetime) -> bool:
    return report.status == "resolved" and report.resolved_at is not None and now - report.resolved_at <= REOPEN_DELAY


async def reopen(session: AsyncSession, report: Report, *, now: datetime, by: int) -> bool:
    """The author says the problem is still there: back to « nouveau », in the coordinators' list again."""
    if not can_reopen(report, now):
        return False
    report.status, report.resolved_at, report.updated_at = "new", None, now
    await add_event(session, report, "reopened", now=now, by=by)
    return True


async def unalerted_urgent(session: AsyncSession, *, since: datetime, limit: int = 200) -> list[Report]:
    """Urgent reports still open whose coordinators were not alerted yet (recent ones only: no flood after an
    outage of days)."""
    query = (select(Report).where(Report.urgency == "urgent", Report.alerted_at.is_(None),
                                  Report.status.in_(("new", "acknowledged")), Report.created_at >= since)
             .order_by(Report.id).limit(limit))
    return list((await session.execute(query)).scalars())
