"""Read-only report queries for the coordination API: filtered listing with a cursor, grouped counts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Territory
from storage.reports import Report, ReportFilter

GROUPS = ("theme", "commune", "departement", "territory", "week", "month", "status", "urgency")


async def list_reports(session: AsyncSession, f: ReportFilter, *, after_id: int = 0,
                       limit: int = 100) -> list[tuple[Report, str]]:
    """Reports in id order after the cursor, each with its territory code (never its author)."""
    query = (f.where(select(Report, Territory.code).join(Territory, Territory.id == Report.territory_id))
             .where(Report.id > after_id).order_by(Report.id).limit(limit))
    return [(report, code) for report, code in (await session.execute(query)).all()]


EXPORT_PAGE = 5000
# What the CSV export shows of a report, as plain columns (no ORM objects: a million rows stream through).
EXPORT_COLUMNS = (Report.id, Report.reference, Report.created_at, Territory.code.label("territory"), Report.theme,
                  Report.commune_insee, Report.departement, Report.public, Report.urgency, Report.status,
                  Report.acknowledged_at, Report.resolved_at, Report.description)


async def export_pages(sessions: async_sessionmaker[AsyncSession], f: ReportFilter,
                       page: int = EXPORT_PAGE) -> AsyncIterator[Sequence[Row[Any]]]:
    """Every report of the filter in id order, page after page (keyset on id: memory stays that of one page),
    each row with its territory code and never its author."""
    query = f.where(select(*EXPORT_COLUMNS).join(Territory, Territory.id == Report.territory_id))
    after = 0
    async with sessions() as session:
        while rows := (await session.execute(query.where(Report.id > after).order_by(Report.id)
                                             .limit(page))).all():
            yield rows
            after = rows[-1].id


def _text(value: Any, formula_starts: Sequence[str]) -> Any:
    """SQL for one CSV cell: the value (NULL as empty), prefixed with « ' » when a spreadsheet would run it as a
    formula, in double quotes with inner ones doubled (as Python's csv.QUOTE_ALL writes it)."""
    shown = case((func.left(value, 1).in_(list(formula_starts)), literal("'") + value), else_=value)
    return literal('"') + func.replace(func.coalesce(shown, ""), '"', '""') + literal('"')


def _iso(moment: Any) -> Any:
    """SQL for datetime.isoformat() of an aware UTC timestamp: « 2026-03-10T09:30:00+00:00 », microseconds only
    when there are some; NULL as empty."""
    utc = func.timezone("UTC", moment)
    micro = case((cast(func.extract("microseconds", moment), BigInteger) % 1_000_000 != 0, func.to_char(utc, ".US")),
                 else_="")
    return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS') + micro + literal("+00:00")


async def copy_csv_lines(session: AsyncSession, f: ReportFilter, delimiter: str, formula_starts: Sequence[str],
                         labels: dict[str, str], names: dict[str, str]) -> AsyncIterator[bytes]:
    """PostgreSQL only: the CSV lines of every report of the filter, in id order, each ending with CR LF, made
    by the server and read through COPY (the same bytes as bot.api.rows.csv_stream, ten times faster).

    COPY's text format escapes a backslash, \\b \\f \\n \\r \\t \\v in the one column: the chunks come out as
    sent, undone by `unescape_copy_text`."""
    theme = func.unnest(_texts("theme_ids", labels), _texts("theme_labels", labels.values())
                        ).table_valued("id", "label").render_derived(name="theme_label")
    commune = func.unnest(_texts("insee", names), _texts("names", names.values())
                          ).table_valued("insee", "name").render_derived(name="commune_name")
    cells = [_text(Report.reference, formula_starts), _quoted_iso(Report.created_at),
             _text(Territory.code, formula_starts), _text(Report.theme, formula_starts),
             _text(func.coalesce(theme.c.label, Report.theme), formula_starts),
             _text(Report.commune_insee, formula_starts), _text(func.coalesce(commune.c.name, ""), formula_starts),
             _text(Report.departement, formula_starts), _text(Report.public, formula_starts),
             _text(Report.urgency, formula_starts), _text(Report.status, formula_starts),
             _quoted_iso(Report.acknowledged_at), _quoted_iso(Report.resolved_at),
             _text(Report.description, formula_starts)]
    line = func.concat_ws(delimiter, *cells) + literal("\r")
    insee = func.upper(func.trim(Report.commune_insee))  # as communes().get reads it
    query = f.where(select(line).select_from(Report).join(Territory, Territory.id == Report.territory_id)
                    .outerjoin(theme, theme.c.id == Report.theme).outerjoin(commune, commune.c.insee == insee)
                    ).order_by(Report.id)
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    connection = await (await session.connection()).get_raw_connection()
    cursor = connection.driver_connection.cursor()  # type: ignore[union-attr]
    async with cursor.copy(f"COPY ({compiled}) TO STDOUT", compiled.params) as copy:
        async for chunk in copy:
            yield bytes(chunk)


def _texts(name: str, values: Iterable[str]) -> Any:
    return cast(bindparam(name, list(values)), ARRAY(Text))


def _quoted_iso(moment: Any) -> Any:
    return literal('"') + func.coalesce(_iso(moment), "") + literal('"')


ESCAPES = {b"\\b": b"\b", b"\\f": b"\f", b"\\n": b"\n", b"\\r": b"\r", b"\\t": b"\t", b"\\v": b"\v"}


def unescape_copy_text(data: bytes) -> bytes:
    """COPY's text format undone for whole rows: « \\\\ » is one backslash, « \\r » a CR…"""
    parts = data.split(b"\\\\")
    for i, part in enumerate(parts):
        if b"\\" in part:
            for escaped, raw in ESCAPES.items():
                part = part.replace(escaped, raw)
            parts[i] = part
    return b"\\".join(parts)


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


async def grouped_counts(session: AsyncSession, f: ReportFilter, groups: Sequence[str]) -> list[tuple[Any, ...]]:
    """(value per group..., count) rows, in group order."""
    dialect = session.get_bind().dialect.name
    columns = [group_column(g, dialect).label(g) for g in groups]
    query = select(*columns, func.count(Report.id))
    if "territory" in groups:
        query = query.join(Territory, Territory.id == Report.territory_id)
    query = f.where(query).group_by(*columns).order_by(*columns)
    return [tuple(row) for row in (await session.execute(query)).all()]
