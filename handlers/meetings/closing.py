"""After a meeting its coordinator closes it: who came (prefilled from the answers, corrected in one message), a
short summary and the next actions, which reach every member and come back in the next date's first reminder."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.notify import notify_members
from bot.outbox import queued_keys
from bot.router import COORDINATORS, Router
from handlers.access import visible_territories
from handlers.meetings.answers import load, manages
from handlers.meetings.messages import day_text, invited
from handlers.reports.masking import mask
from storage import audit
from storage.alerts import coordinators_to_alert
from storage.closures import NewClosure, close_meeting, closed_keys
from storage.meetings import Occurrence, answers_for, occurrences, scheduled_meetings
from storage.models import Member
from storage.normalize import fold

router = Router("meeting_closing")

CLOSE_PROMPT = "close"  # the stateless button of « La réunion est finie : la clore ? »
RECENT = timedelta(days=60)  # dates offered for closing
PROMPT_WITHIN = timedelta(days=2)  # the prompt goes out this long after the end at most (downtime)
SUMMARY_LIMIT = 1000
ACTION_LIMIT = 200
MAX_ACTIONS = 10
_OK = ("ok", "valider", "valide", "c est bon", "fini", "termine")
_OTHERS = re.compile(r"\+ ?(\d{1,3})")
_STRUCTURES = re.compile(r"(\d{1,3}) ?structures?")


def ended(found: Occurrence, now: datetime) -> bool:
    return found.starts_at + found.meeting.length <= now


async def to_close(session: AsyncSession, territory_ids: list[int] | None, now: datetime,
                   since: timedelta = RECENT) -> list[Occurrence]:
    """Dates over (end passed) within `since`, not closed yet, of these territories' meetings."""
    meetings = await scheduled_meetings(session, territory_ids)
    done = await closed_keys(session, [m.id for m in meetings])
    held = [o for m in meetings for o in occurrences(m, now - since, now) if ended(o, now)]
    return sorted((o for o in held if (o.meeting.id, o.key) not in done), key=lambda o: o.starts_at)


@router.command("cloturer", roles=COORDINATORS, help_key="closing.help", order=23, aliases=("clore", "clôturer"))
async def close_command(_event: TextReceived, ctx: Context) -> Reply:
    found = await to_close(ctx.session, await visible_territories(ctx), ctx.now)
    if not found:
        return Reply(t("closing.none"))
    if len(found) == 1:
        return await start(ctx, found[0])
    ctx.conversation.goto("meeting.close_which")
    choices = tuple(Choice(f"{o.meeting.id}:{o.stamp}", t("closing.which_item", title=o.meeting.title[:40],
                                                              day=o.starts_at.astimezone(ctx.tz).strftime("%d/%m")))
                    for o in found[-8:])
    return Reply(t("closing.which"), choices=choices)


@router.choice("meeting.close_which")
async def chose_date(event: ChoiceMade, ctx: Context) -> Reply:
    return await start_from_id(ctx, event.choice_id)


@router.action(CLOSE_PROMPT)
async def prompt_pressed(event: ChoiceMade, ctx: Context) -> Reply:
    return await start_from_id(ctx, event.choice_id)


async def start_from_id(ctx: Context, choice_id: str) -> Reply:
    meeting_id, _, stamp = choice_id.partition(":")
    found = await load(ctx, int(meeting_id), stamp) if meeting_id.isdigit() else None
    if found is None or ctx.member is None or not await manages(ctx, found.meeting):
        ctx.conversation.end()
        return Reply(t("meetings.gone"))
    if (found.meeting.id, found.key) in await closed_keys(ctx.session, [found.meeting.id]):
        ctx.conversation.end()
        return Reply(t("closing.already"))
    return await start(ctx, found)


async def start(ctx: Context, found: Occurrence) -> Reply:
    answers = await answers_for(ctx.session, found)
    present = [member_id for member_id, answer in answers.items() if answer == "yes"]
    ctx.conversation.goto("meeting.attendance", meeting=found.meeting.id, stamp=found.stamp, present=present,
                          others=0, structures=None)
    return await attendance_list(ctx, found, intro=True)


async def attendance_list(ctx: Context, found: Occurrence, *, intro: bool = False) -> Reply:
    """The numbered list, ✅ for who came; typed numbers toggle (no buttons: « 2 » must mean person 2)."""
    data = ctx.conversation.data
    people = await invited(ctx.session, found.meeting)
    present = set(data["present"])
    lines = [t("closing.attendance_intro" if intro else "closing.attendance_again", title=found.meeting.title,
               day=day_text(found.starts_at, ctx.tz))]
    lines += [f"{i}. {'✅' if m.id in present else '▫️'} {m.display_name}" for i, m in enumerate(people, 1)]
    lines.append(t("closing.tally", present=len(present & {m.id for m in people}), others=data["others"],
                   structures=structures(data, people)))
    lines.append(t("closing.attendance_how"))
    return Reply("\n".join(lines), expects_answer=True)


def structures(data: dict[str, Any], people: list[Member]) -> int:
    """As typed, else one per referent present (a referent usually represents a structure)."""
    typed = data.get("structures")
    if isinstance(typed, int):
        return typed
    present = set(data["present"])
    return sum(1 for m in people if m.id in present and m.role == "referent")


@router.step("meeting.attendance")
async def typed_attendance(event: TextReceived, ctx: Context) -> Reply:
    """« 2 5 » toggles people 2 and 5; « +3 » 3 participants from outside; « 4 structures »; « ok » goes on."""
    data = ctx.conversation.data
    found = await load(ctx, data["meeting"], data["stamp"])
    if found is None:
        ctx.conversation.end()
        return Reply(t("meetings.gone"))
    people = await invited(ctx.session, found.meeting)
    text = event.text.lower()  # not folded: « +3 » keeps its sign
    done = any(re.search(rf"(^|\s){re.escape(word)}($|\s|[.!])", fold(event.text)) for word in _OK)
    if match := _OTHERS.search(text):
        ctx.conversation.update(others=int(match[1]))
        text = _OTHERS.sub(" ", text)
    if match := _STRUCTURES.search(text):
        ctx.conversation.update(structures=int(match[1]))
        text = _STRUCTURES.sub(" ", text)
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if any(not 1 <= n <= len(people) for n in numbers):
        return Reply(t("closing.bad_number", most=len(people)), expects_answer=True)
    if not numbers and not done and text.strip() == event.text.lower().strip():
        return Reply(t("closing.not_understood"), expects_answer=True)
    present = set(data["present"])
    for n in numbers:
        present ^= {people[n - 1].id}
    ctx.conversation.update(present=sorted(present))
    if not done:
        return await attendance_list(ctx, found)
    ctx.conversation.goto("meeting.summary")
    return Reply(t("closing.ask_summary", limit=SUMMARY_LIMIT), choices=(Choice("skip", t("closing.skip")),))


@router.choice("meeting.summary")
async def skipped_summary(_event: ChoiceMade, ctx: Context) -> Reply:
    ctx.conversation.goto("meeting.actions", summary=None)
    return ask_actions()


@router.step("meeting.summary")
async def typed_summary(event: TextReceived, ctx: Context) -> Reply:
    text = event.text.strip()
    if len(text) > SUMMARY_LIMIT:
        return Reply(t("reports.too_long", limit=SUMMARY_LIMIT, length=len(text)))
    ctx.conversation.goto("meeting.actions", summary=mask(text, current_year=ctx.now.year).text)
    return ask_actions()


def ask_actions() -> Reply:
    return Reply(t("closing.ask_actions", most=MAX_ACTIONS), choices=(Choice("none", t("closing.no_actions")),))


def parse_actions(text: str) -> list[str]:
    """One per line (or separated by « ; »), bullets and numbers removed."""
    parts = [p.strip() for line in text.splitlines() for p in line.split(";")]
    cleaned = [re.sub(r"^(?:[-*•]|\d{1,2}[.)])\s*", "", p).strip() for p in parts]
    return [c for c in cleaned if c]


@router.choice("meeting.actions")
async def no_actions(_event: ChoiceMade, ctx: Context) -> Reply:
    return await save(ctx, [])


@router.step("meeting.actions")
async def typed_actions(event: TextReceived, ctx: Context) -> Reply:
    actions = parse_actions(event.text)
    if not actions or len(actions) > MAX_ACTIONS or any(len(a) > ACTION_LIMIT for a in actions):
        return Reply(t("closing.bad_actions", most=MAX_ACTIONS, limit=ACTION_LIMIT))
    return await save(ctx, [mask(a, current_year=ctx.now.year).text for a in actions])


async def save(ctx: Context, actions: list[str]) -> Reply:
    assert ctx.member is not None
    data = ctx.conversation.data
    found = await load(ctx, data["meeting"], data["stamp"])
    ctx.conversation.end()
    if found is None:
        return Reply(t("meetings.gone"))
    people = await invited(ctx.session, found.meeting)
    present = {m.id: m.role for m in people if m.id in set(data["present"])}
    new = NewClosure(found.meeting.id, found.key, found.starts_at, present, data.get("summary"), tuple(actions),
                     int(data["others"]), structures(data, people), ctx.member.id)
    closure = await close_meeting(ctx.session, new, ctx.now)
    if closure is None:
        return Reply(t("closing.already"))
    await audit.record(ctx.session, now=ctx.now, action="meeting.closed", actor_id=ctx.member.id,
                       target=str(found.meeting.id), present=len(present), actions=len(actions))
    report = compte_rendu(found, len(present), new.others, new.summary, actions, ctx)
    told = await notify_members(ctx.session, [m for m in people if m.id != ctx.member.id],
                                lambda m: f"closure:{closure.id}:{m.id}", lambda m: Reply(report, notify=True),
                                now=ctx.now)
    return Reply(t("closing.saved", present=len(present), actions=len(actions), told=told))


def compte_rendu(found: Occurrence, present: int, others: int, summary: str | None, actions: list[str],
                 ctx: Context) -> str:
    lines = [t("closing.report_title", title=found.meeting.title, day=day_text(found.starts_at, ctx.tz)),
             t("closing.report_present", present=present) + (t("closing.report_others", others=others)
                                                               if others else "")]
    if summary:
        lines.append(summary)
    if actions:
        lines += [t("closing.report_actions")] + [f"- {a}" for a in actions]
    return "\n".join(lines)


@router.job("meetings.close_prompt", every_seconds=120)
async def prompt_close(job: JobContext) -> None:
    """Once a date is over, its coordinator is asked to close it (one message per date and person)."""
    now = job.clock.now()
    for found in await to_close(job.session, None, now, since=PROMPT_WITHIN + timedelta(days=1)):
        if now - (found.starts_at + found.meeting.length) > PROMPT_WITHIN:
            continue
        await ask_to_close(job.session, found, now)


async def ask_to_close(session: AsyncSession, found: Occurrence, now: datetime) -> None:
    prefix = f"close:{found.meeting.id}:{found.stamp}:"
    asked = {key.rsplit(":", 1)[1] for key in await queued_keys(session, prefix)}
    fresh = [m for m in await closers(session, found) if str(m.id) not in asked]  # buttons offered once
    choice = (Choice(f"{found.meeting.id}:{found.stamp}", t("closing.prompt_button")),)
    text = t("closing.prompt", title=found.meeting.title, day=day_text(found.starts_at, found.meeting.tz))
    await notify_members(session, fresh, lambda m: f"{prefix}{m.id}",
                         lambda m: Reply(text, choices=choice, prompt_id=CLOSE_PROMPT, notify=True), now=now)


async def closers(session: AsyncSession, found: Occurrence) -> list[Member]:
    """Who created the meeting, if still a coordinator; else the coordinators of its territory."""
    creator = await session.get(Member, found.meeting.created_by) if found.meeting.created_by else None
    if creator is not None and creator.erased_at is None and creator.role != "referent":
        return [creator]
    return await coordinators_to_alert(session, [found.meeting.territory_id])
