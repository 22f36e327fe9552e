"""/reunion: a coordinator schedules a network meeting (title, date in plain French, place, recurrence)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import french
from bot.context import Context
from bot.events import Choice, Reply
from bot.form import Field, Form, Parsed, question
from bot.i18n import t
from bot.markup import literal
from bot.router import COORDINATORS, CommandCall, Router
from handlers.dates.french import DateError, parse_when
from handlers.meetings import answers as meeting_answers
from handlers.meetings import changes as meeting_changes
from handlers.meetings import closing as meeting_closing
from handlers.meetings import length as meeting_length
from handlers.meetings import nudge as meeting_nudge
from handlers.meetings import reminders as meeting_reminders
from handlers.meetings.messages import day_text, invited, offsets_text, recurrence, when
from storage import audit
from storage.meetings import NewMeeting, create_meeting, monthly_rule, reminder_offsets, rule_dates
from storage.normalize import fold

router = Router("meetings")
ROUTERS = [router, meeting_answers.router, meeting_changes.router, meeting_reminders.router,  # the whole feature
           meeting_nudge.router, meeting_closing.router]

TITLE_LIMIT = 120
PLACE_LIMIT = 300
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
_EVERY_N_MONTHS = re.compile(r"\b(?:tous|toutes) les (\d{1,2}) mois\b")
_EVERY = {"trimestre": 3, "trimestriel": 3, "trimestrielle": 3, "semestre": 6, "semestriel": 6,
          "semestrielle": 6, "mensuel": 1, "mensuelle": 1, "tous les mois": 1, "chaque mois": 1}
_ONCE = ("une seule fois", "une fois", "aucune", "non", "pas de recurrence", "ponctuelle", "jamais", "0")


def parse_every(text: str) -> int | None:
    """« tous les trimestres » -> 3, « tous les 3 mois » -> 3, « une seule fois » -> 0, otherwise None."""
    folded = fold(text)
    if match := _EVERY_N_MONTHS.search(folded):
        months = int(match[1])
        return months if 1 <= months <= 12 else None
    if any(folded == word or folded.startswith(word + " ") for word in _ONCE):
        return 0
    return next((months for word, months in _EVERY.items() if word in folded), None)


async def read_title(text: str, _ctx: Context) -> Parsed:
    title = " ".join(text.split())
    if not 3 <= len(title) <= TITLE_LIMIT:
        return Parsed.again(t("meetings.bad_title", limit=TITLE_LIMIT))
    return Parsed.ok(title)


async def pick_title(_choice_id: str, _ctx: Context) -> Parsed:
    return Parsed.ok(t("meetings.default_title"))


async def ask_when(ctx: Context) -> Reply:
    return Reply(t("meetings.ask_when", example=example_date(ctx.now, ctx.tz)))


def example_date(now: datetime, tz: ZoneInfo) -> str:
    """An example that is always valid: a Thursday about three weeks ahead, in words (« jeudi 7 janvier à 14h »)."""
    day = now.astimezone(tz).date() + timedelta(days=21)
    day += timedelta(days=(3 - day.weekday()) % 7)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} à 14h"


async def read_when(text: str, ctx: Context) -> Parsed:
    try:
        moment = parse_when(text, now=ctx.now, tz=ctx.tz)
    except DateError as error:
        return Parsed.again(error.message + "\n" + t("meetings.when_example", example=example_date(ctx.now, ctx.tz)))
    return Parsed.ok(moment.isoformat())


async def read_place(text: str, _ctx: Context) -> Parsed:
    place = " ".join(text.split())
    if not 2 <= len(place) <= PLACE_LIMIT:
        return Parsed.again(t("meetings.bad_place", limit=PLACE_LIMIT))
    return Parsed.ok(place)


async def ask_length(_ctx: Context) -> Reply:
    return meeting_length.ask_length()


async def read_length(text: str, _ctx: Context) -> Parsed:
    minutes = meeting_length.parse_length(text)
    return Parsed.again(t("closing.bad_length")) if minutes is None else Parsed.ok(minutes)


async def pick_number(choice_id: str, _ctx: Context) -> Parsed:
    return Parsed.ok(int(choice_id))


async def read_every(text: str, _ctx: Context) -> Parsed:
    months = parse_every(text)
    return Parsed.again(t("meetings.bad_every")) if months is None else Parsed.ok(months)


FIELDS = (
    Field("title", t("meetings.field_title"),
          question(t("meetings.ask_title"), (Choice("default", t("meetings.default_title")),)),
          read=read_title, pick=pick_title),
    Field("when", t("meetings.field_when"), ask_when, read=read_when, show=lambda v, c: when(
        datetime.fromisoformat(v), c.tz)),
    Field("length", t("meetings.field_length"), ask_length, read=read_length, pick=pick_number),
    Field("place", t("meetings.field_place"), question(t("meetings.ask_place")), read=read_place),
    Field("every", t("meetings.field_every"),
          question(t("meetings.ask_every"), (Choice("3", t("meetings.every_quarter")),
                                             Choice("0", t("meetings.once_button"))), per_row=2),
          read=read_every, pick=pick_number),
)


def draft(ctx: Context, data: dict[str, Any], submit_key: str = "") -> NewMeeting:
    """The meeting as typed so far (not saved)."""
    assert ctx.member is not None
    start = datetime.fromisoformat(data["when"])
    rule = monthly_rule(start.astimezone(ctx.tz).replace(tzinfo=None), data["every"]) if data["every"] else None
    return NewMeeting(territory_id=ctx.member.territory_id, title=data["title"], place=data["place"],
                      starts_at=start, rrule=rule, created_by=ctx.member.id, submit_key=submit_key,
                      duration_minutes=data["length"])


async def summary(ctx: Context, data: dict[str, Any]) -> str:
    """Everything echoed back unambiguously, in the territory's zone, with the following dates if recurring."""
    assert ctx.member is not None
    new = draft(ctx, data)
    offsets = (await reminder_offsets(ctx.session)).get(ctx.member.territory_id, ())
    text = t("meetings.summary", title=literal(new.title), when=when(new.starts_at, ctx.tz), place=literal(new.place),
             length=meeting_length.length_text(data["length"]),
             recurrence=recurrence(new.starts_at.astimezone(ctx.tz), data["every"]),
             network=french.of(ctx.member.territory.name), offsets=offsets_text(offsets))
    if new.rrule:
        later = rule_dates(new.rrule, new.starts_at, ctx.tz, new.starts_at + timedelta(minutes=1),
                           new.starts_at + timedelta(days=370))
        text += "\n" + t("meetings.summary_next", dates=", ".join(day_text(d, ctx.tz) for d in later[:2]))
    return text


async def save(ctx: Context, data: dict[str, Any], key: str) -> list[Reply]:
    assert ctx.member is not None
    meeting = await create_meeting(ctx.session, draft(ctx, data, f"{ctx.member.id}:{key}"), ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="meeting.created", actor_id=ctx.member.id,
                       target=str(meeting.id))
    people = len(await invited(ctx.session, meeting))
    return [Reply(t("meetings.saved", title=literal(meeting.title), network=french.of(meeting.territory.name),
                    people=people))]


FORM = Form("meeting", FIELDS, summary=summary, submit=save)
FORM.register(router)


@router.command("reunion", roles=COORDINATORS, help_key="meetings.help_reunion",
                example_key="meetings.example_reunion", order=21)
async def start(_call: CommandCall, ctx: Context) -> list[Reply]:
    return await FORM.start(ctx, Reply(t("meetings.intro")))
