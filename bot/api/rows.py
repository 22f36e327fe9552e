"""Reports as API rows (never their author), and as CSV cells a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.communes import communes
from storage.report_stats import copy_csv_lines, unescape_copy_text
from storage.reports import Report, ReportFilter
from storage.themes import themes

CSV_FIELDS = ("reference", "created_at", "territory", "theme", "theme_label", "commune_insee", "commune",
              "departement", "public", "urgency", "status", "acknowledged_at", "resolved_at", "description")
# A cell starting with one of these is a formula for Excel, LibreOffice or Google Sheets (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def as_item(report: Report, territory_code: str) -> dict[str, Any]:
    theme = themes().problem(report.theme)
    commune = communes().get(report.commune_insee)
    return {"reference": report.reference, "created_at": _stamp(report.created_at), "territory": territory_code,
            "theme": report.theme, "theme_label": theme.label if theme else report.theme,
            "commune_insee": report.commune_insee, "commune": commune.name if commune else "",
            "departement": report.departement, "public": report.public, "urgency": report.urgency,
            "status": report.status, "acknowledged_at": _stamp(report.acknowledged_at),
            "resolved_at": _stamp(report.resolved_at), "description": report.description}


def neutralised(value: object) -> object:
    """A text cell that a spreadsheet would evaluate is prefixed with « ' »: shown as typed, never run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


COPY_CHUNK = 256 * 1024


async def csv_copy_stream(sessions: async_sessionmaker[AsyncSession], f: ReportFilter,
                          delimiter: str) -> AsyncIterator[bytes]:
    """PostgreSQL: the same bytes as csv_stream, the lines made by the server (COPY), sent by 256 KB chunks."""
    yield _header(delimiter).encode()
    labels = {theme.id: theme.label for theme in themes().problems}
    async with sessions() as session:
        lines = copy_csv_lines(session, f, delimiter, FORMULA_STARTS, labels, _commune_names())
        chunks: list[bytes] = []
        size = 0
        async for chunk in lines:
            chunks.append(chunk)
            size += len(chunk)
            if size >= COPY_CHUNK:
                yield unescape_copy_text(b"".join(chunks))
                chunks, size = [], 0
        if chunks:
            yield unescape_copy_text(b"".join(chunks))


@cache
def _commune_names() -> dict[str, str]:
    return {commune.insee: commune.name for commune in communes()}


def _header(delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL).writerow(CSV_FIELDS)
    return "\ufeff" + buffer.getvalue()


async def csv_stream(pages: AsyncIterator[Sequence[Any]], delimiter: str) -> AsyncIterator[str]:
    """CSV text with every field quoted and every cell neutralised, one chunk per page of export rows
    (storage.report_stats.export_pages): the BOM and the header first, then each page as soon as it is read, so
    a million rows never sit in memory."""
    yield _header(delimiter)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL)
    places, labels = communes(), {theme.id: theme.label for theme in themes().problems}
    async for page in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_cells(row, places.get(row.commune_insee), labels) for row in page)
        yield buffer.getvalue()


def _cells(row: Any, commune: Any, labels: dict[str, str]) -> list[object]:
    """One export row as CSV_FIELDS cells: the values of as_item, neutralised."""
    values = (row.reference, _stamp(row.created_at), row.territory, row.theme, labels.get(row.theme, row.theme),
              row.commune_insee, commune.name if commune else "", row.departement, row.public, row.urgency,
              row.status, _stamp(row.acknowledged_at), _stamp(row.resolved_at), row.description)
    return [neutralised(value) for value in values]
