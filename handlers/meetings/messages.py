"""What members read about a meeting (dates in their own zone, answers, reminders, notices) and its queuing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import french
from bot.events import Attachment, Choice, Reply
from bot.i18n import t
from bot.markup import literal
from handlers.dates.french import WEEKDAYS, format_when
from handlers.meetings.calendar import CalendarEvent, attachment
from storage.meetings import ANSWERS, Meeting, Occurrence, nth_weekday, rule_months
from storage.members import members_of
from storage.models import Member
from storage.territories import subtree_ids

RSVP_PROMPT = "rsvp"  # stateless buttons: reminders arrive outside any conversation
MemberReply = Callable[[Member], Reply]  # the same notice, worded for each member (their zone, answer)


def zone_of(member: Member) -> ZoneInfo:
    return ZoneInfo(member.territory.timezone)


def when(moment: datetime, tz: ZoneInfo) -> str:
    """« jeudi 12 mars 2026 à 14 h 00, heure de Paris »: the zone is always said, so nobody misreads it."""
    return format_when(moment, tz)


def day_text(moment: datetime, tz: ZoneInfo) -> str:
    """« jeudi 11 juin 2026 », the day part of `when`."""
    return format_when(moment, tz).split(" à ")[0]


def answer_label(answer: str | None) -> str:
    return t(f"meetings.answer_{answer}" if answer in ANSWERS else "meetings.answer_none")


def answer_choices(found: Occurrence) -> tuple[Choice, ...]:
    """Présent / Absent / Peut-être; the id names the date, so a button works days later and after a move."""
    return tuple(Choice(f"{found.meeting.id}:{found.stamp}:{a}", t(f"meetings.button_{a}")) for a in ANSWERS)


def parse_answer(choice_id: str) -> tuple[int, str, str] | None:
    """"12:202603121300:yes" -> (12, "202603121300", "yes"); None when it is not an answer."""
    parts = choice_id.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or parts[2] not in ANSWERS:
        return None
    return int(parts[0]), parts[1], parts[2]


def recurrence(local_start: datetime, months: int) -> str:
    """« tous les 3 mois, le 2e jeudi du mois » or « une seule fois »."""
    if not months:
        return t("meetings.once")
    nth, weekday = nth_weekday(local_start)
    rank = t("meetings.rank_last") if nth == -1 else t("meetings.rank_first") if nth == 1 else f"{nth}e"
    every = t("meetings.every_month") if months == 1 else t("meetings.every_months", months=months)
    return t("meetings.recurrence", every=every, rank=rank, weekday=WEEKDAYS[weekday])


def meeting_recurrence(meeting: Meeting) -> str:
    return recurrence(meeting.starts_at.astimezone(meeting.tz), rule_months(meeting.rrule))


def offset_label(code: str) -> str:
    """A reminder's code as people say it: « 1 jour », or the J-3 nudge to those who have not answered."""
    if code.startswith("nudge"):
        return t("meetings.nudge_label", n="".join(ch for ch in code if ch.isdigit()))
    return offsets_text((code,))


def offsets_text(codes: tuple[str, ...]) -> str:
    """("7d", "1d", "2h") -> « 7 jours, 1 jour et 2 heures »."""
    words = [t(f"meetings.unit_{code[-1]}{'s' if int(code[:-1]) > 1 else ''}", n=int(code[:-1])) for code in codes]
    if len(words) < 2:
        return "".join(words)
    return t("meetings.and", first=", ".join(words[:-1]), last=words[-1])


def calendar_event(found: Occurrence, *, cancelled: bool = False) -> CalendarEvent:
    meeting = found.meeting
    return CalendarEvent(uid=f"relais-meeting-{meeting.id}-{found.key:%Y%m%dT%H%MZ}@relais", title=meeting.title,
                         place=meeting.place, starts_at=found.starts_at, tz=meeting.tz, stamp=found.since,
                         sequence=found.sequence, cancelled=cancelled,
                         description=t("meetings.ics_description", network=french.of_network(meeting.territory.name)),
                         length=meeting.length)


def ics(found: Occurrence, *, cancelled: bool = False) -> Attachment:
    return attachment(calendar_event(found, cancelled=cancelled))


def days_until(found: Occurrence, now: datetime, tz: ZoneInfo) -> str:
    """« aujourd'hui », « demain », « dans 7 jours », counted on the member's calendar."""
    days = (found.starts_at.astimezone(tz).date() - now.astimezone(tz).date()).days
    if days <= 1:
        return t("meetings.today" if days <= 0 else "meetings.tomorrow")
    return t("meetings.in_days", days=days)


def reminder(found: Occurrence, member: Member, *, now: datetime, answer: str | None, late: bool,
             invitation: Attachment | None, actions: Sequence[str] = ()) -> Reply:
    tz = zone_of(member)
    lines = [t("meetings.reminder", title=literal(found.meeting.title), relative=days_until(found, now, tz),
               when=when(found.starts_at, tz), place=found.meeting.place)]
    lines.append(t("meetings.reminder_answered", answer=answer_label(answer)) if answer
                 else t("meetings.reminder_ask"))
    if late:
        lines.append(t("meetings.late"))
    if actions:
        lines += [t("closing.actions_recall")] + [f"- {action}" for action in actions]
    return Reply("\n".join(lines), choices=answer_choices(found), prompt_id=RSVP_PROMPT, choices_per_row=3,
                 attachment=invitation)


async def invited(session: AsyncSession, meeting: Meeting) -> list[Member]:
    """Every member of the meeting's network: its territory and all the territories below it."""
    return await members_of(session, await subtree_ids(session, meeting.territory_id))
