"""Meeting reminders (J-7, J-1, H-2 unless a territory says otherwise), sent once, late after downtime if need be."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import french
from bot.context import Context
from bot.events import Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.notify import notify_members
from bot.outbox import queued_keys
from bot.router import COORDINATORS, Router, parse_command
from handlers.meetings.messages import ics, invited, offsets_text, reminder
from storage import audit
from storage.closures import last_actions
from storage.meetings import (
    DEFAULT_OFFSETS,
    Meeting,
    Occurrence,
    answers_for,
    handled_reminders,
    occurrences,
    offset_delta,
    parse_offsets,
    record_reminder,
    reminder_instant,
    reminder_offsets,
    scheduled_meetings,
    set_reminder_offsets,
)
from storage.models import Member
from storage.normalize import fold

log = logging.getLogger(__name__)
router = Router("meeting_reminders")

LATE_AFTER = timedelta(minutes=10)  # the job runs every 30 s: later than this, the bot was down at the time
LOOKBACK = timedelta(days=31)  # dates older than this are forgotten, not even logged as missed
MAX_OFFSETS = 5
_OFFSET = re.compile(r"(\d{1,3}) ?(jours?|j|d|semaines?|sem|heures?|h|minutes?|min|m)\b")


@dataclass(frozen=True, slots=True)
class Due:
    found: Occurrence
    code: str  # "7d"
    instant: datetime  # when it was meant to go out


def due_reminders(meeting: Meeting, codes: tuple[str, ...], now: datetime) -> list[Due]:
    """Reminders whose time has come, for dates not over by more than LOOKBACK; those due before the date
    was set (a meeting planned 3 days ahead has no J-7) never apply."""
    horizon = max((offset_delta(code) for code in codes), default=timedelta(0)) + timedelta(days=2)
    due = []
    for found in occurrences(meeting, now - LOOKBACK, now + horizon):
        for code in codes:
            instant = reminder_instant(found.starts_at, code, meeting.tz)
            if found.since <= instant <= now:
                due.append(Due(found, code, instant))
    return due


@router.job("meetings.reminders", every_seconds=30)
async def send_reminders(job: JobContext) -> None:
    """Recompute from the tables what is due; a reminder handled once (queued or missed) is never redone."""
    now, grace = job.clock.now(), timedelta(seconds=job.grace_seconds)
    plan = await reminder_offsets(job.session)
    meetings = await scheduled_meetings(job.session)
    due = [d for meeting in meetings for d in due_reminders(meeting, plan.get(meeting.territory_id, DEFAULT_OFFSETS),
                                                               now)]
    if not due:
        return
    done = await handled_reminders(job.session, [m.id for m in meetings], now - LOOKBACK)
    for item in due:
        if (item.found.meeting.id, item.found.starts_at, item.code) not in done:
            await handle(job.session, item, now, grace)


async def handle(session: AsyncSession, item: Due, now: datetime, grace: timedelta) -> None:
    found = item.found
    ids = f"meeting={found.meeting.id} date={found.starts_at:%Y%m%dT%H%MZ} reminder={item.code}"
    if now >= found.starts_at or now - item.instant > grace:
        log.warning("reminder missed, not sent: %s was due at %s", ids, f"{item.instant:%Y-%m-%dT%H:%MZ}")
        await record_reminder(session, found, item.code, outcome="missed", recipients=0, now=now)
        return
    late = now - item.instant > LATE_AFTER
    queued = await queue_reminder(session, item, now, late=late)
    await record_reminder(session, found, item.code, outcome="late" if late else "sent", recipients=queued, now=now)
    log.info("reminder queued: %s for %d members%s", ids, queued, " (late)" if late else "")


async def queue_reminder(session: AsyncSession, item: Due, now: datetime, *, late: bool) -> int:
    """One message per member of the network; the first one a member gets for a date carries the .ics."""
    found = item.found
    prefix = f"reminder:{found.meeting.id}:{found.starts_at:%Y%m%dT%H%MZ}:"
    reminded = {key.rsplit(":", 1)[1] for key in await queued_keys(session, prefix)}
    answers = await answers_for(session, found)
    invitation = ics(found)
    actions = await last_actions(session, found.meeting.id, found.starts_at)  # decided last time: back in the first

    def reply(member: Member) -> Reply:
        first = str(member.id) not in reminded
        return reminder(found, member, now=now, answer=answers.get(member.id), late=late,
                        invitation=invitation if first else None, actions=actions if first else ())

    members = await invited(session, found.meeting)
    return await notify_members(session, members, lambda m: f"{prefix}{item.code}:{m.id}", reply, now=now)


def parse_french_offsets(text: str) -> tuple[str, ...]:
    """« 7j 1j 2h », « 7 jours, 1 jour et 2 heures », « 2 semaines » -> ("14d", "7d"…); ValueError otherwise."""
    folded = fold(text)
    found = _OFFSET.findall(folded)
    if not found or _OFFSET.sub("", folded).replace(",", " ").replace(" et ", " ").strip():
        raise ValueError(text)
    codes = []
    for number, unit in found:
        n = int(number) * (7 if unit.startswith("s") else 1)
        codes.append(f"{n}{'d' if unit[0] in 'jds' else 'h' if unit[0] == 'h' else 'm'}")
    parsed = parse_offsets(",".join(codes))
    if len(parsed) > MAX_OFFSETS or any(not timedelta(minutes=5) <= offset_delta(c) <= timedelta(days=60)
                                        for c in parsed):
        raise ValueError(text)
    return parsed


@router.command("rappels", roles=COORDINATORS, help_key="meetings.help_rappels",
                example_key="meetings.example_rappels", order=22)
async def reminder_setting(event: TextReceived, ctx: Context) -> Reply:
    """/rappels shows when the network is reminded; /rappels 7j 1j 2h changes it for the territory and below."""
    assert ctx.member is not None
    _, text = parse_command(event.text) or ("", "")
    territory = ctx.member.territory
    if not text:
        current = (await reminder_offsets(ctx.session)).get(territory.id, DEFAULT_OFFSETS)
        return Reply(t("meetings.offsets_now", network=french.of(territory.name), offsets=offsets_text(current)))
    try:
        codes = parse_french_offsets(text)
    except ValueError:
        return Reply(t("meetings.offsets_bad", most=MAX_OFFSETS))
    await set_reminder_offsets(ctx.session, territory.id, codes, now=ctx.now, by=ctx.member.id)
    await audit.record(ctx.session, now=ctx.now, action="meeting.reminders", actor_id=ctx.member.id,
                       target=territory.code, offsets=",".join(codes))
    return Reply(t("meetings.offsets_set", network=french.of(territory.name), offsets=offsets_text(codes)))
