"""What someone typed, quoted back in an answer (« Je ne trouve pas la commune « … » »): personal data masked
first (an answer is queued and kept like any message), markup shown as text, and short enough for a phone."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.markup import literal


def quoted(text: str, *, limit: int = 40) -> str:
    from handlers.reports.masking import mask  # imported on use: support commands (relais when) start fast

    masked = " ".join(mask(text, current_year=datetime.now(UTC).year).text.split())
    short = masked if len(masked) <= limit else masked[: limit - 1].rstrip() + "…"
    return literal(short)
