"""/reunion: a coordinator schedules a network meeting (title, date in plain French, place, recurrence)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.router import COORDINATORS, Router
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
           meeting_length.router, meeting_nudge.router, meeting_closing.router]

TITLE_LIMIT = 120
PLACE_LIMIT = 300
FIELDS = ("title", "when", "length", "place", "every")
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


@router.command("reunion", roles=COORDINATORS, help_key="meetings.help_reunion",
                example_key="meetings.example_reunion", order=21)
async def start(_event: TextReceived, ctx: Context) -> list[Reply]:
    ctx.conversation.goto("meeting.title")
    return [Reply(t("meetings.intro")), ask("title")]


def ask(field: str) -> Reply:
    if field == "length":
        return meeting_length.ask_length()
    if field == "title":
        return Reply(t("meetings.ask_title"), choices=(Choice("default", t("meetings.default_title")),))
    if field == "every":
        choices = (Choice("3", t("meetings.every_quarter")), Choice("0", t("meetings.once_button")))
        return Reply(t("meetings.ask_every"), choices=choices, choices_per_row=2)
    return Reply(t(f"meetings.ask_{field}"))


async def next_question(ctx: Context) -> list[Reply]:
    """Ask for the first missing field, or show the summary once everything is there."""
    data = ctx.conversation.data
    missing = next((field for field in FIELDS if data.get(field) is None), None)
    if missing is not None:
        ctx.conversation.goto(f"meeting.{missing}")
        return [ask(missing)]
    ctx.conversation.goto("meeting.confirm")
    return [await summary(ctx)]


@router.choice("meeting.title")
async def default_title(_event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(title=t("meetings.default_title"))
    return await next_question(ctx)


@router.step("meeting.title")
async def typed_title(event: TextReceived, ctx: Context) -> list[Reply]:
    title = " ".join(event.text.split())
    if not 3 <= len(title) <= TITLE_LIMIT:
        return [Reply(t("meetings.bad_title", limit=TITLE_LIMIT))]
    ctx.conversation.update(title=title)
    return await next_question(ctx)


@router.step("meeting.when")
async def typed_when(event: TextReceived, ctx: Context) -> list[Reply]:
    try:
        moment = parse_when(event.text, now=ctx.now, tz=ctx.tz)
    except DateError as error:
        return [Reply(error.message)]
    ctx.conversation.update(when=moment.isoformat())
    return await next_question(ctx)


@router.step("meeting.place")
async def typed_place(event: TextReceived, ctx: Context) -> list[Reply]:
    place = " ".join(event.text.split())
    if not 2 <= len(place) <= PLACE_LIMIT:
        return [Reply(t("meetings.bad_place", limit=PLACE_LIMIT))]
    ctx.conversation.update(place=place)
    return await next_question(ctx)


@router.choice("meeting.every")
async def chose_every(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(every=int(event.choice_id))
    return await next_question(ctx)


@router.step("meeting.every")
async def typed_every(event: TextReceived, ctx: Context) -> list[Reply]:
    months = parse_every(event.text)
    if months is None:
        return [Reply(t("meetings.bad_every")), ask("every")]
    ctx.conversation.update(every=months)
    return await next_question(ctx)


def draft(ctx: Context, submit_key: str = "") -> NewMeeting:
    """The meeting as typed so far (not saved)."""
    assert ctx.member is not None
    data = ctx.conversation.data
    start = datetime.fromisoformat(data["when"])
    rule = monthly_rule(start.astimezone(ctx.tz).replace(tzinfo=None), data["every"]) if data["every"] else None
    return NewMeeting(territory_id=ctx.member.territory_id, title=data["title"], place=data["place"],
                      starts_at=start, rrule=rule, created_by=ctx.member.id, submit_key=submit_key,
                      duration_minutes=data["length"])


async def summary(ctx: Context) -> Reply:
    """Everything echoed back unambiguously, in the territory's zone, with the following dates if recurring."""
    assert ctx.member is not None
    new = draft(ctx)
    offsets = (await reminder_offsets(ctx.session)).get(ctx.member.territory_id, ())
    text = t("meetings.summary", title=new.title, when=when(new.starts_at, ctx.tz), place=new.place,
             recurrence=recurrence(new.starts_at.astimezone(ctx.tz), ctx.conversation.data["every"]),
             network=ctx.member.territory.name, offsets=offsets_text(offsets),
             length=meeting_length.length_text(new.duration_minutes))
    if new.rrule:
        later = rule_dates(new.rrule, new.starts_at, ctx.tz, new.starts_at + timedelta(minutes=1),
                           new.starts_at + timedelta(days=370))
        text += "\n" + t("meetings.summary_next", dates=", ".join(day_text(d, ctx.tz) for d in later[:2]))
    choices = (Choice("ok", t("meetings.confirm")), Choice("edit", t("meetings.correct")))
    return Reply(text, choices=choices, choices_per_row=2)


@router.choice("meeting.confirm")
async def confirmed(event: ChoiceMade, ctx: Context) -> Reply:
    if event.choice_id == "edit":
        ctx.conversation.goto("meeting.edit")
        fields = tuple(Choice(field, t(f"meetings.field_{field}")) for field in FIELDS)
        return Reply(t("meetings.edit_which"), choices=fields, choices_per_row=2)
    return await save(ctx, event)


@router.choice("meeting.edit")
async def edit_field(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.forget(event.choice_id)
    return await next_question(ctx)


async def save(ctx: Context, event: ChoiceMade) -> Reply:
    assert ctx.member is not None
    meeting = await create_meeting(ctx.session, draft(ctx, f"{ctx.member.id}:{event.prompt_id}"), ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="meeting.created", actor_id=ctx.member.id,
                       target=str(meeting.id))
    ctx.conversation.end()
    people = len(await invited(ctx.session, meeting))
    return Reply(t("meetings.saved", title=meeting.title, network=meeting.territory.name, people=people))
