"""How long a meeting lasts, asked at creation (2 h unless said otherwise): the .ics end and the Coop's « Durée »."""

from __future__ import annotations

import re

from bot.events import Choice, Reply
from bot.i18n import t
from storage.meetings import DEFAULT_MINUTES
from storage.normalize import fold

HOURS = (1, 2, 3, 4)  # the button n is n hours: a typed « 2 » means 2 h on every platform
_LENGTH = re.compile(r"^(?:(\d{1,2}) ?h(?:eures?)? ?(\d{1,2})?|(\d{2,3}) ?(?:min|minutes?|mn))$")
_HALF_DAY = ("demi-journee", "demi journee", "matinee", "apres-midi")


def ask_length() -> Reply:
    choices = tuple(Choice(str(h * 60), t("closing.hours", n=h)) for h in HOURS)
    return Reply(t("closing.ask_length", default=DEFAULT_MINUTES // 60), choices=choices, choices_per_row=4)


def parse_length(text: str) -> int | None:
    """« 1h30 », « 90 min », « 2 heures », « demi-journée » -> minutes (15 min to 10 h); None otherwise."""
    folded = fold(text).replace(" et ", " ").strip()
    if any(word in folded for word in _HALF_DAY):
        return 240
    match = _LENGTH.match(folded)
    if not match:
        return None
    minutes = int(match[3]) if match[3] else int(match[1]) * 60 + int(match[2] or 0)
    return minutes if 15 <= minutes <= 600 else None


def length_text(minutes: int) -> str:
    """120 -> « 2 h », 90 -> « 1 h 30 »."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest:02d}" if rest else "")
