"""Network meetings: the tables (meetings, changed dates, answers, reminders handled, settings) and queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, intpk, str200, utc
from storage.db import upsert_insert
from storage.models import Territory
from storage.territories import TerritoryTree

ANSWERS = ("yes", "no", "maybe")
DEFAULT_MINUTES = 120  # asked at creation; the .ics and the Coop export use it
DEFAULT_OFFSETS = ("7d", "1d", "2h")
STAMP = "%Y%m%d%H%M"  # an occurrence in choice ids: its original start, UTC, to the minute
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class Meeting(Base):
    """A meeting of a territory's network, once or recurring; the rule runs on the territory's wall time."""

    __tablename__ = "meeting"
    __table_args__ = (Index("ix_meeting_territory_status", "territory_id", "status"),)

    id: Mapped[intpk]
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    title: Mapped[str200]
    place: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[utc]  # the first date; the following ones come from `rrule`
    rrule: Mapped[str | None] = mapped_column(String(120))  # e.g. FREQ=MONTHLY;INTERVAL=3;BYDAY=+2TH
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled | cancelled
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[utc]
    updated_at: Mapped[utc]
    submit_key: Mapped[str] = mapped_column(String(80), unique=True)  # one meeting per « Confirmer »
    duration_minutes: Mapped[int] = mapped_column(default=DEFAULT_MINUTES, server_default=str(DEFAULT_MINUTES))

    territory: Mapped[Territory] = relationship(lazy="joined")
    changes: Mapped[list[MeetingChange]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.territory.timezone)

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes or DEFAULT_MINUTES)


class MeetingChange(Base):
    """One date moved or cancelled; `occurrence`, its original start, stays its identity (answers, .ics UID)."""

    __tablename__ = "meeting_change"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    occurrence: Mapped[utc]
    starts_at: Mapped[datetime | None]  # the new start; None when cancelled
    cancelled: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=1)  # .ics SEQUENCE: one more at each change
    changed_at: Mapped[utc]
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))


class Rsvp(Base):
    """A member's answer for one date of a meeting."""

    __tablename__ = "meeting_rsvp"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence", "member_id"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    occurrence: Mapped[utc]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(10))  # yes | no | maybe
    answered_at: Mapped[utc]


class ReminderBatch(Base):
    """One reminder of one date, handled once: queued for every member, or missed (too late to send)."""

    __tablename__ = "meeting_reminder"
    __table_args__ = (UniqueConstraint("meeting_id", "starts_at", "offset_code"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    starts_at: Mapped[utc]  # the date reminded of, as it then stood (a moved date is reminded afresh)
    offset_code: Mapped[str] = mapped_column(String(10))  # 7d, 1d, 2h…
    outcome: Mapped[str] = mapped_column(String(10))  # sent | late | missed
    recipients: Mapped[int] = mapped_column(default=0)
    handled_at: Mapped[utc] = mapped_column(index=True)


class ReminderSetting(Base):
    """When a territory's members are reminded; sub-territories without their own setting inherit it."""

    __tablename__ = "meeting_reminder_setting"

    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True)
    offsets: Mapped[str] = mapped_column(String(60))  # "7d,1d,2h"
    updated_at: Mapped[utc]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))


# --- dates -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One date of a meeting as it now stands."""

    meeting: Meeting
    key: datetime  # the original start (UTC): identity of the date for answers and the .ics UID
    starts_at: datetime  # when it takes place (UTC), moved or not
    since: datetime  # when it got this time (creation or last move): reminders due before never apply
    sequence: int = 0
    cancelled: bool = False

    @property
    def stamp(self) -> str:
        return f"{self.key:{STAMP}}"


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in tz to UTC; fold=0 takes the first of a repeated hour, a skipped one moves on."""
    return local.replace(tzinfo=tz).astimezone(UTC)


def nth_weekday(day: datetime) -> tuple[int, int]:
    """(nth, weekday) of a date in its month: the 2nd Thursday is (2, 3); a fifth one counts as the last (-1)."""
    nth = (day.day - 1) // 7 + 1
    return (-1 if nth == 5 else nth), day.weekday()


def monthly_rule(local_start: datetime, months: int) -> str:
    """Every `months` months on the same weekday of the month (« le 2e jeudi »), never on a weekend by drift."""
    nth, weekday = nth_weekday(local_start)
    return f"FREQ=MONTHLY;INTERVAL={months};BYDAY={nth:+d}{WEEKDAY_CODES[weekday]}"


def rule_months(rule: str | None) -> int:
    if not rule:
        return 0
    parts = dict(part.split("=", 1) for part in rule.split(";"))
    return int(parts.get("INTERVAL", "1"))


def series(meeting: Meeting, start: datetime, end: datetime) -> list[datetime]:
    """Original starts (UTC) within [start, end]."""
    if not meeting.rrule:
        return [meeting.starts_at] if start <= meeting.starts_at <= end else []
    return rule_dates(meeting.rrule, meeting.starts_at, meeting.tz, start, end)


def rule_dates(rule: str, first: datetime, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Dates (UTC) of a rule within [start, end]; it runs on local wall time, so 14:00 stays 14:00 across DST."""
    recurring = rrulestr(rule, dtstart=first.astimezone(tz).replace(tzinfo=None))
    low = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    high = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    found = (to_utc(local, tz) for local in recurring.between(low, high, inc=True))
    return [moment for moment in found if start <= moment <= end]


def occurrence(meeting: Meeting, key: datetime) -> Occurrence:
    change = next((c for c in meeting.changes if c.occurrence == key), None)
    if change is None:
        return Occurrence(meeting, key, key, meeting.created_at)
    return Occurrence(meeting, key, change.starts_at or key, change.changed_at, change.sequence, change.cancelled)


def occurrences(meeting: Meeting, start: datetime, end: datetime) -> list[Occurrence]:
    """Dates taking place within [start, end], moves applied, cancelled dates left out."""
    if meeting.status != "scheduled":
        return []
    keys = set(series(meeting, start, end))
    keys |= {c.occurrence for c in meeting.changes if c.starts_at and start <= c.starts_at <= end}
    found = (occurrence(meeting, key) for key in keys)
    return sorted((o for o in found if not o.cancelled and start <= o.starts_at <= end), key=lambda o: o.starts_at)


def find_occurrence(meeting: Meeting, stamp: str) -> Occurrence | None:
    """The date named by a choice id, if it is one of the meeting's and still takes place."""
    try:
        key = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    if meeting.status != "scheduled" or not series(meeting, key, key):
        return None
    found = occurrence(meeting, key)
    return None if found.cancelled else found


def next_occurrence(meeting: Meeting, now: datetime) -> Occurrence | None:
    upcoming = occurrences(meeting, now, now + timedelta(days=800))
    return upcoming[0] if upcoming else None


# --- reminder offsets ----------------------------------------------------------------------------------------


def parse_offsets(text: str) -> tuple[str, ...]:
    """ "7d,1d,2h" -> ("7d", "1d", "2h"), longest first; ValueError when one is not a number and d, h or m."""
    codes = {part.strip() for part in text.split(",") if part.strip()}
    for code in codes:
        if len(code) < 2 or code[-1] not in _UNITS or not code[:-1].isdigit() or int(code[:-1]) == 0:
            raise ValueError(f"bad reminder offset {code!r}")
    return tuple(sorted(codes, key=offset_delta, reverse=True))


def offset_delta(code: str) -> timedelta:
    return timedelta(**{_UNITS[code[-1]]: int(code[:-1])})


def reminder_instant(starts_at: datetime, code: str, tz: ZoneInfo) -> datetime:
    """Days count on the wall clock (J-7 of a 14:00 meeting is at 14:00 local, DST or not); hours elapse."""
    if code.endswith("d"):
        local = starts_at.astimezone(tz).replace(tzinfo=None) - offset_delta(code)
        return to_utc(local, tz)
    return starts_at - offset_delta(code)


async def reminder_offsets(session: AsyncSession) -> dict[int, tuple[str, ...]]:
    """Every territory's reminder offsets, its own or its nearest ancestor's, else the default."""
    own = {s.territory_id: parse_offsets(s.offsets) for s in (await session.execute(select(ReminderSetting))).scalars()}
    return (await TerritoryTree.load(session)).inherited(own, DEFAULT_OFFSETS)


async def set_reminder_offsets(session: AsyncSession, territory_id: int, codes: Sequence[str], *, now: datetime,
                               by: int | None) -> None:
    setting = await session.get(ReminderSetting, territory_id)
    if setting is None:
        setting = ReminderSetting(territory_id=territory_id)
        session.add(setting)
    setting.offsets, setting.updated_at, setting.updated_by = ",".join(codes), now, by


# --- queries -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMeeting:
    territory_id: int
    title: str
    place: str
    starts_at: datetime
    rrule: str | None
    created_by: int | None
    submit_key: str
    duration_minutes: int = DEFAULT_MINUTES


async def create_meeting(session: AsyncSession, new: NewMeeting, now: datetime) -> Meeting:
    """Save a meeting; the same submit_key saves it once (a « Confirmer » pressed twice)."""
    query = select(Meeting).where(Meeting.submit_key == new.submit_key)
    if existing := (await session.execute(query)).scalar_one_or_none():
        return existing
    meeting = Meeting(territory_id=new.territory_id, title=new.title, place=new.place, starts_at=new.starts_at,
                      rrule=new.rrule, status="scheduled", created_by=new.created_by, created_at=now,
                      updated_at=now, submit_key=new.submit_key, changes=[],
                      duration_minutes=new.duration_minutes)
    session.add(meeting)
    await session.flush()
    await session.refresh(meeting, ["territory"])
    return meeting


async def scheduled_meetings(session: AsyncSession, territory_ids: Iterable[int] | None = None) -> list[Meeting]:
    """Meetings still taking place, of these territories (None: of every territory)."""
    query = select(Meeting).where(Meeting.status == "scheduled").order_by(Meeting.id)
    if territory_ids is not None:
        query = query.where(Meeting.territory_id.in_(list(territory_ids)))
    return list((await session.execute(query)).unique().scalars())


async def change_occurrence(session: AsyncSession, found: Occurrence, *, starts_at: datetime | None, now: datetime,
                            by: int | None) -> MeetingChange:
    """Move one date (starts_at) or cancel it (None); answers stay attached to the date."""
    meeting = found.meeting
    change = next((c for c in meeting.changes if c.occurrence == found.key), None)
    if change is None:
        change = MeetingChange(occurrence=found.key, sequence=0)
        meeting.changes.append(change)
    change.starts_at, change.cancelled = starts_at, starts_at is None
    change.sequence, change.changed_at, change.changed_by = change.sequence + 1, now, by
    meeting.updated_at = now
    await session.flush()
    return change


async def set_answer(session: AsyncSession, found: Occurrence, member_id: int, answer: str, now: datetime) -> None:
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer}")
    values = dict(meeting_id=found.meeting.id, occurrence=found.key, member_id=member_id, answer=answer,
                  answered_at=now)
    stmt = upsert_insert(session, Rsvp).values(**values).on_conflict_do_update(
        index_elements=["meeting_id", "occurrence", "member_id"], set_={"answer": answer, "answered_at": now})
    await session.execute(stmt)


async def answers_for(session: AsyncSession, found: Occurrence) -> dict[int, str]:
    """member id -> answer, for one date."""
    query = select(Rsvp.member_id, Rsvp.answer).where(Rsvp.meeting_id == found.meeting.id,
                                                      Rsvp.occurrence == found.key)
    return dict((await session.execute(query)).tuples().all())


async def handled_reminders(session: AsyncSession, meeting_ids: Sequence[int],
                            since: datetime) -> set[tuple[int, datetime, str]]:
    """(meeting, start, offset) of reminders already handled for dates from `since` on."""
    query = select(ReminderBatch.meeting_id, ReminderBatch.starts_at, ReminderBatch.offset_code).where(
        ReminderBatch.meeting_id.in_(list(meeting_ids)), ReminderBatch.starts_at >= since)
    return set((await session.execute(query)).tuples().all())


async def record_reminder(session: AsyncSession, found: Occurrence, code: str, *, outcome: str, recipients: int,
                          now: datetime) -> None:
    session.add(ReminderBatch(meeting_id=found.meeting.id, starts_at=found.starts_at, offset_code=code,
                              outcome=outcome, recipients=recipients, handled_at=now))


async def reminders_handled_at(session: AsyncSession, at: datetime) -> list[ReminderBatch]:
    query = select(ReminderBatch).where(ReminderBatch.handled_at == at).order_by(ReminderBatch.id)
    return list((await session.execute(query)).scalars())


async def ancestor_ids(session: AsyncSession, territory_id: int) -> list[int]:
    """The territory and the ones above it: a member is invited to their meetings."""
    return (await TerritoryTree.load(session)).ancestors(territory_id)


# --- demo --------------------------------------------------------------------------------------------------

def previous_in_rule(rule: str, local: datetime) -> datetime:
    """The date of a quarterly rule three months before `local` (same weekday of the month)."""
    start = (local - relativedelta(months=3)).replace(day=1)
    return rrulestr(rule, dtstart=start)[0]  # type: ignore[index,no-any-return]
