"""Query parameters read strictly: bad input is a 400 in French, never a 500 from the database."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime, time

from fastapi import Request

from bot.api.errors import error
from bot.cleaning import clean_text

MAX_ID = 2**31 - 1  # report.id is a 32-bit integer on PostgreSQL: a larger cursor cannot point at a report
INSEE = re.compile(r"(?:\d{5}|2[AB]\d{3}|97\d{3})")


async def plain_parameters(request: Request) -> None:
    """Refuse control characters (NUL breaks PostgreSQL) and oversized values in any query parameter."""
    for name, value in request.query_params.multi_items():
        if clean_text(value) != value or clean_text(name) != name:
            raise error(400, f"{clean_text(name)[:40]} : caractères de contrôle ou invisibles interdits")
        if len(value) > 2000:
            raise error(400, f"{name[:40]} : valeur trop longue")


def _utc(parsed: datetime, name: str) -> datetime:
    try:
        aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except (OverflowError, ValueError):
        raise error(400, f"{name} : date hors des limites") from None


def moment(value: str | None, name: str) -> datetime | None:
    """AAAA-MM-JJ (midnight UTC) or an ISO 8601 date-time; normalised to UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if "T" in value else datetime.combine(date.fromisoformat(value), time())
    except ValueError:
        raise error(400, f"{name} : date attendue au format AAAA-MM-JJ ou ISO 8601") from None
    return _utc(parsed, name)


def day(value: str | None, name: str) -> datetime | None:
    """A day only (AAAA-MM-JJ), as its midnight UTC: aggregates never take a finer bound."""
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        raise error(400, f"{name} : un jour au format AAAA-MM-JJ (pas d'heure pour les statistiques)") from None
    return _utc(datetime.combine(parsed, time()), name)


def commune(value: str | None) -> str | None:
    if value is not None and not INSEE.fullmatch(value.upper()):
        raise error(400, "commune : code INSEE à 5 caractères attendu (ex. 35243)")
    return value.upper() if value else None


def encode_cursor(report_id: int) -> str:
    return base64.urlsafe_b64encode(f"r{report_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not re.fullmatch(r"r\d{1,10}", raw) or int(raw[1:]) > MAX_ID:
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error):
        raise error(400, "curseur invalide : reprenez la valeur next_cursor de la réponse précédente") from None
