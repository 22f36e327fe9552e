"""J-3: one nudge to the members who have not answered yet (none to those who did), once per date."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from bot.events import Reply
from bot.i18n import t
from bot.jobs import JobContext
from bot.notify import notify_members
from bot.router import Router
from handlers.meetings.messages import invited, reminder
from handlers.meetings.reminders import LOOKBACK, Due, due_reminders
from storage.meetings import answers_for, handled_reminders, record_reminder, scheduled_meetings
from storage.models import Member

router = Router("meeting_nudge")
log = logging.getLogger(__name__)

NUDGE = "3d"
CODE = "nudge3d"  # its row among the reminders handled: distinct from a territory's own « 3d »


@router.job("meetings.nudge", every_seconds=60)
async def nudge_silent(job: JobContext) -> None:
    now, grace = job.clock.now(), timedelta(seconds=job.grace_seconds)
    meetings = await scheduled_meetings(job.session)
    due = [d for meeting in meetings for d in due_reminders(meeting, (NUDGE,), now)]
    if not due:
        return
    done = await handled_reminders(job.session, [m.id for m in meetings], now - LOOKBACK)
    for item in due:
        if (item.found.meeting.id, item.found.starts_at, CODE) not in done:
            outcome = "missed" if now >= item.found.starts_at or now - item.instant > grace else "sent"
            sent = await nudge(job, item) if outcome == "sent" else 0
            await record_reminder(job.session, item.found, CODE, outcome=outcome, recipients=sent, now=now)


async def nudge(job: JobContext, item: Due) -> int:
    found, now = item.found, job.clock.now()
    answers = await answers_for(job.session, found)
    silent = [m for m in await invited(job.session, found.meeting) if m.id not in answers]

    def reply(member: Member) -> Reply:
        base = reminder(found, member, now=now, answer=None, late=False, invitation=None)
        return replace(base, text=t("closing.nudge") + "\n" + base.text, notify=True)

    key = f"nudge:{found.meeting.id}:{found.starts_at:%Y%m%dT%H%MZ}:"
    sent = await notify_members(job.session, silent, lambda m: f"{key}{m.id}", reply, now=now)
    log.info("J-3 nudge: meeting=%s, %d member(s) without an answer", found.meeting.id, sent)
    return sent
