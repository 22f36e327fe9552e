"""Read-only report queries for the coordination API: filtered listing with a cursor, grouped counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Territory
from storage.reports import Report

GROUPS = ("theme", "commune", "departement", "territory", "week", "month", "status", "urgency")


@dataclass(frozen=True, slots=True)
class ApiFilter:
    territory_ids: Sequence[int]
    since: datetime | None = None
    until: datetime | None = None
    theme: str | None = None
    commune: str | None = None
    status: str | None = None
    urgency: str | None = None


def _filtered(query: Any, f: ApiFilter) -> Any:  # any Select over report
    query = query.where(Report.territory_id.in_(f.territory_ids), Report.status != "withdrawn")
    if f.since is not None:
        query = query.where(Report.created_at >= f.since)
    if f.until is not None:
        query = query.where(Report.created_at < f.until)
    equal = {Report.theme: f.theme, Report.commune_insee: f.commune, Report.status: f.status,
             Report.urgency: f.urgency}
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    return query


async def list_reports(session: AsyncSession, f: ApiFilter, *, after_id: int = 0,
                       limit: int = 100) -> list[tuple[Report, str]]:
    """Reports in id order after the cursor, each with its territory code (never its author)."""
    query = (_filtered(select(Report, Territory.code).join(Territory, Territory.id == Report.territory_id), f)
             .where(Report.id > after_id).order_by(Report.id).limit(limit))
    return [(report, code) for report, code in (await session.execute(query)).all()]


EXPORT_PAGE = 5000
# What the CSV export shows of a report, as plain columns (no ORM objects: a million rows stream through).
EXPORT_COLUMNS = (Report.id, Report.reference, Report.created_at, Territory.code.label("territory"), Report.theme,
                  Report.commune_insee, Report.departement, Report.public, Report.urgency, Report.status,
                  Report.acknowledged_at, Report.resolved_at, Report.description)


async def export_pages(sessions: async_sessionmaker[AsyncSession], f: ApiFilter,
                       page: int = EXPORT_PAGE) -> AsyncIterator[Sequence[Row[Any]]]:
    """Every report of the filter in id order, page after page (keyset on id: memory stays that of one page),
    each row with its territory code and never its author."""
    query = _filtered(select(*EXPORT_COLUMNS).join(Territory, Territory.id == Report.territory_id), f)
    after = 0
    async with sessions() as session:
        while rows := (await session.execute(query.where(Report.id > after).order_by(Report.id)
                                             .limit(page))).all():
            yield rows
            after = rows[-1].id


def _week(dialect: str) -> ColumnElement[str]:
    """ISO 8601 week « 2026-W53 » on both databases (2027-01-01 belongs to 2026-W53)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", Report.created_at), 'IYYY-"W"IW')
    # SQLite before 3.46 has no %G/%V: the ISO year and week are those of the Thursday of the same Monday-week
    thursday = func.date(Report.created_at, "-3 days", "weekday 4")
    week = (cast(func.strftime("%j", thursday), Integer) - 1) / 7 + 1
    return func.printf("%s-W%02d", func.strftime("%Y", thursday), week)


def _month(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", Report.created_at), "YYYY-MM")
    return func.strftime("%Y-%m", Report.created_at)


def group_column(name: str, dialect: str) -> ColumnElement[Any]:
    columns: dict[str, Any] = {
        "theme": Report.theme, "commune": Report.commune_insee, "departement": Report.departement,
        "territory": Territory.code, "status": Report.status, "urgency": Report.urgency,
    }
    if name == "week":
        return _week(dialect)
    if name == "month":
        return _month(dialect)
    return columns[name]


async def grouped_counts(session: AsyncSession, f: ApiFilter, groups: Sequence[str]) -> list[tuple[Any, ...]]:
    """(value per group..., count) rows, in group order."""
    dialect = session.get_bind().dialect.name
    columns = [group_column(g, dialect).label(g) for g in groups]
    query = select(*columns, func.count(Report.id))
    if "territory" in groups:
        query = query.join(Territory, Territory.id == Report.territory_id)
    query = _filtered(query, f).group_by(*columns).order_by(*columns)
    return [tuple(row) for row in (await session.execute(query)).all()]
