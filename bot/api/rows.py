"""Reports as API rows (never their author), and as CSV cells a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from storage.communes import communes
from storage.reports import Report
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


class CsvSheet:
    """CSV text with every field quoted and every cell neutralised."""

    def __init__(self, delimiter: str) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.DictWriter(self.buffer, fieldnames=CSV_FIELDS, delimiter=delimiter,
                                     quoting=csv.QUOTE_ALL)
        self.writer.writeheader()

    def add(self, items: Iterable[dict[str, Any]]) -> None:
        self.writer.writerows({k: neutralised(v) for k, v in item.items()} for item in items)

    def text(self) -> str:
        return "\ufeff" + self.buffer.getvalue()
