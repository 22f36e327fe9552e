"""How long a meeting lasts, asked at creation (2 h unless said otherwise): the .ics end and the Coop's « Durée »."""

from __future__ import annotations

import re

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.router import Router
from storage.meetings import DEFAULT_MINUTES
from storage.normalize import fold

router = Router("meeting_length")

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


@router.choice("meeting.length")
async def chose_length(event: ChoiceMade, ctx: Context) -> list[Reply]:
    from handlers.meetings.schedule import next_question

    ctx.conversation.update(length=int(event.choice_id))
    return await next_question(ctx)


@router.step("meeting.length")
async def typed_length(event: TextReceived, ctx: Context) -> list[Reply]:
    from handlers.meetings.schedule import next_question

    minutes = parse_length(event.text)
    if minutes is None:
        return [Reply(t("closing.bad_length")), ask_length()]
    ctx.conversation.update(length=minutes)
    return await next_question(ctx)
