"""Aggregates behind the weekly digest, computed in SQL (a territory may hold a million reports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member
from storage.reports import Report, ReportFilter

OPEN = ("new", "acknowledged")


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)


@dataclass(frozen=True, slots=True)
class DigestFigures:
    total: int
    previous_total: int
    by_theme: list[tuple[str, int]]
    top_communes: list[tuple[str, int]]
    urgent_open: list[str]  # references
    oldest_unacknowledged: list[tuple[str, datetime]]
    new_members: int
    weekly_by_theme: list[tuple[datetime, str, int]]  # week start (UTC), theme, count


async def _counts(session: AsyncSession, territory_ids: Sequence[int], period: Period, column: Any,
                  limit: int | None = None) -> list[tuple[str, int]]:
    count = func.count(Report.id)
    query = (ReportFilter(territory_ids, since=period.start, until=period.end).where(select(column, count))
             .group_by(column).order_by(count.desc(), column).limit(limit))
    return [(str(value), int(n)) for value, n in (await session.execute(query)).all()]


async def _totals(session: AsyncSession, territory_ids: Sequence[int], period: Period) -> tuple[int, int]:
    """Reports in the period and in the one before, in a single scan."""
    previous = period.previous
    in_current = case((Report.created_at >= period.start, 1), else_=0)
    query = ReportFilter(territory_ids, since=previous.start, until=period.end).where(
        select(func.count(Report.id), func.sum(in_current)))
    both, current = (await session.execute(query)).one()
    return int(current or 0), int(both or 0) - int(current or 0)


async def _open_references(session: AsyncSession, territory_ids: Sequence[int], *, urgent: bool,
                           limit: int) -> list[tuple[str, datetime]]:
    f = (ReportFilter(territory_ids, OPEN, urgency="urgent") if urgent
         else ReportFilter(territory_ids, ("new",)))
    query = f.where(select(Report.reference, Report.created_at)).order_by(Report.created_at, Report.id).limit(limit)
    return [(ref, at) for ref, at in (await session.execute(query)).all()]


async def _weekly(session: AsyncSession, territory_ids: Sequence[int], end: datetime,
                  weeks: int) -> list[tuple[datetime, str, int]]:
    """Counts per theme per 7-day slice ending at `end`, in one scan (slice bounds computed here, portable SQL)."""
    starts = [end - timedelta(weeks=weeks - i) for i in range(weeks)]
    slice_of = case(*[(Report.created_at >= start, i) for i, start in reversed(list(enumerate(starts)))])
    query = (ReportFilter(territory_ids, since=starts[0], until=end)
             .where(select(slice_of, Report.theme, func.count(Report.id))).group_by(slice_of, Report.theme))
    return [(starts[int(i)], str(theme), int(n)) for i, theme, n in (await session.execute(query)).all()]


async def figures(session: AsyncSession, territory_ids: Sequence[int], period: Period, *,
                  chart_weeks: int = 8) -> DigestFigures:
    total, previous = await _totals(session, territory_ids, period)
    urgent = await _open_references(session, territory_ids, urgent=True, limit=5)
    members = select(func.count(Member.id)).where(Member.territory_id.in_(territory_ids),
                                                  Member.created_at >= period.start, Member.created_at < period.end)
    return DigestFigures(
        total=total, previous_total=previous,
        by_theme=await _counts(session, territory_ids, period, Report.theme),
        top_communes=await _counts(session, territory_ids, period, Report.commune_insee, limit=3),
        urgent_open=[ref for ref, _ in urgent],
        oldest_unacknowledged=await _open_references(session, territory_ids, urgent=False, limit=3),
        new_members=int((await session.execute(members)).scalar_one()),
        weekly_by_theme=await _weekly(session, territory_ids, period.end, chart_weeks),
    )
