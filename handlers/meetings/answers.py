"""/reunions: upcoming meetings with my answer, answering (buttons of a reminder too), and the coordinators' view."""

from __future__ import annotations

import re
from datetime import datetime

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.router import Router
from handlers.access import oversees
from handlers.meetings.messages import (
    RSVP_PROMPT,
    answer_choices,
    answer_label,
    day_text,
    invited,
    meeting_recurrence,
    parse_answer,
    when,
)
from storage.meetings import (
    STAMP,
    Meeting,
    Occurrence,
    ancestor_ids,
    answers_for,
    find_occurrence,
    next_occurrence,
    scheduled_meetings,
    set_answer,
)
from storage.territories import subtree_ids

router = Router("meeting_answers")

LISTED = 8
NAMES_SHOWN = 15


async def is_invited(ctx: Context, meeting: Meeting) -> bool:
    assert ctx.member is not None
    return meeting.territory_id in await ancestor_ids(ctx.session, ctx.member.territory_id)


async def manages(ctx: Context, meeting: Meeting) -> bool:
    """Admins manage every meeting; coordinators those of their territory and below."""
    assert ctx.member is not None
    return ctx.member.role != "referent" and await oversees(ctx, meeting.territory_id)


async def visible(ctx: Context) -> list[Occurrence]:
    """The next date of each meeting I am invited to or manage, soonest first."""
    assert ctx.member is not None
    scope = set(await ancestor_ids(ctx.session, ctx.member.territory_id))
    if ctx.member.role == "coordinator":
        scope |= set(await subtree_ids(ctx.session, ctx.member.territory_id))
    meetings = await scheduled_meetings(ctx.session, None if ctx.member.role == "admin" else scope)
    upcoming = [found for meeting in meetings if (found := next_occurrence(meeting, ctx.now))]
    return sorted(upcoming, key=lambda o: o.starts_at)[:LISTED]


@router.command("reunions", help_key="meetings.help_reunions", order=20, aliases=("réunions", "rsvp"))
async def list_meetings(_event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    upcoming = await visible(ctx)
    if not upcoming:
        hint = t("meetings.none_hint") if ctx.member.role != "referent" else ""
        return Reply(t("meetings.none") + hint)
    lines = [t("meetings.list_title")]
    several = len({o.meeting.territory_id for o in upcoming}) > 1  # an admin sees every network's meetings
    for found in upcoming:
        mine = (await answers_for(ctx.session, found)).get(ctx.member.id)
        title = literal(found.meeting.title) + (f" — {found.meeting.territory.name}" if several else "")
        lines.append(t("meetings.list_line", title=title, when=when(found.starts_at, ctx.tz),
                       place=found.meeting.place, answer=answer_label(mine)))
    ctx.conversation.goto("meeting.list")
    choices = tuple(Choice(f"{o.meeting.id}:{o.stamp}", t("meetings.open", title=short_title(o, several),
                                                              day=o.starts_at.astimezone(ctx.tz).strftime("%d/%m")))
                    for o in upcoming)
    return Reply("\n".join(lines), choices=choices)


def short_title(found: Occurrence, with_network: bool) -> str:
    """A button's words: the title, and the network when several networks' meetings are listed (so that three
    « Réunion trimestrielle du réseau (07/12) » can be told apart)."""
    if not with_network:
        return found.meeting.title[:40]
    return f"{found.meeting.title[:24]} · {found.meeting.territory.name[:28]}"


async def load(ctx: Context, meeting_id: int, stamp: str) -> Occurrence | None:
    meeting = await ctx.session.get(Meeting, meeting_id)
    return find_occurrence(meeting, stamp) if meeting else None


@router.choice("meeting.list")
async def open_meeting(event: ChoiceMade, ctx: Context) -> Reply:
    meeting_id, _, stamp = event.choice_id.partition(":")
    found = await load(ctx, int(meeting_id), stamp) if meeting_id.isdigit() else None
    if found is None or not (await is_invited(ctx, found.meeting) or await manages(ctx, found.meeting)):
        ctx.conversation.end()
        return Reply(t("meetings.gone"))
    ctx.conversation.goto("meeting.detail", meeting=found.meeting.id, stamp=found.stamp)
    return await detail(ctx, found)


async def detail(ctx: Context, found: Occurrence) -> Reply:
    """The date, place, rule and my answer; for the network's coordinators, the answers so far."""
    assert ctx.member is not None
    meeting, answers = found.meeting, await answers_for(ctx.session, found)
    lines = [t("meetings.detail", title=literal(meeting.title), when=when(found.starts_at, ctx.tz),
               place=literal(meeting.place), recurrence=meeting_recurrence(meeting), network=meeting.territory.name)]
    choices: tuple[Choice, ...] = ()
    if managing := await manages(ctx, meeting):
        lines.append(await counts(ctx, found, answers))
    if await is_invited(ctx, meeting):
        mine = answers.get(ctx.member.id)
        lines.append(t("meetings.your_answer", answer=answer_label(mine)) if mine else t("meetings.reminder_ask"))
        choices = answer_choices(found)
    if managing:
        choices += tuple(Choice(a, t(f"meetings.manage_{a}")) for a in management(meeting))
    return Reply("\n".join(lines), choices=choices, choices_per_row=3)


def management(meeting: Meeting) -> tuple[str, ...]:
    return ("move", "cancel", "stop") if meeting.rrule else ("move", "cancel")


async def counts(ctx: Context, found: Occurrence, answers: dict[int, str]) -> str:
    """« 3 présents · 1 absent · 2 peut-être · 5 sans réponse », then who has not answered yet."""
    people = await invited(ctx.session, found.meeting)
    silent = [m.display_name for m in people if m.id not in answers]
    tally = {a: sum(1 for m in people if answers.get(m.id) == a) for a in ("yes", "no", "maybe")}
    text = t("meetings.counts", yes=tally["yes"], no=tally["no"], maybe=tally["maybe"], silent=len(silent))
    if silent:
        names = [f"- {name}" for name in silent[:NAMES_SHOWN]]
        if len(silent) > NAMES_SHOWN:
            names.append(t("meetings.and_more", n=len(silent) - NAMES_SHOWN))
        text += "\n" + t("meetings.silent") + "\n" + "\n".join(names)
    return text


@router.action(RSVP_PROMPT)
async def answered_button(event: ChoiceMade, ctx: Context) -> Reply:
    """A button of a reminder or notice, pressed whenever: the id says which meeting and date."""
    parsed = parse_answer(event.choice_id) if _well_formed(event.choice_id) else None
    if parsed is None:  # a forged or mangled payload: an answer, never an error
        return Reply(t("meetings.stale_choice"))
    return await answer(ctx, await load(ctx, parsed[0], parsed[1]), parsed[2])


def _well_formed(choice_id: str) -> bool:
    """« 12:202603121300:yes »: an id that fits the database, a real UTC minute."""
    parts = choice_id.split(":")
    if len(parts) != 3:
        return False
    meeting_id, stamp, _ = parts
    if not (re.fullmatch(r"[0-9]{1,10}", meeting_id) and 0 < int(meeting_id) < 2**31
            and re.fullmatch(r"[0-9]{12}", stamp)):
        return False
    try:
        datetime.strptime(stamp, STAMP)  # noqa: DTZ007  (only checks the form)
    except ValueError:
        return False
    return True


async def answer(ctx: Context, found: Occurrence | None, choice: str) -> Reply:
    assert ctx.member is not None
    if found is None or found.starts_at <= ctx.now:
        return Reply(t("meetings.gone"))
    if not await is_invited(ctx, found.meeting):
        return Reply(t("meetings.not_invited"))
    await set_answer(ctx.session, found, ctx.member.id, choice, ctx.now)
    return Reply(t("meetings.answered", answer=answer_label(choice), title=literal(found.meeting.title),
                   day=day_text(found.starts_at, ctx.tz)))
