"""A meeting date once held: who came, a short summary and the next actions (closed by its coordinator)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from storage.base import Base, intpk, utc
from storage.meetings import Meeting


class Closure(Base):
    __tablename__ = "meeting_closure"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence"),)

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    occurrence: Mapped[utc]  # the date's identity (its original start), as for answers
    held_at: Mapped[utc]  # when it took place (moved or not)
    summary: Mapped[str | None] = mapped_column(Text)
    others: Mapped[int] = mapped_column(default=0)  # participants who are not members (élus, partners…)
    structures: Mapped[int] = mapped_column(default=0)  # structures represented
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    closed_at: Mapped[utc]

    attendees: Mapped[list[Attendance]] = relationship(cascade="all, delete-orphan", lazy="raise")
    actions: Mapped[list[Action]] = relationship(cascade="all, delete-orphan", lazy="raise",
                                                 order_by="Action.position")


class Attendance(Base):
    """A member who came (members absent have no row)."""

    __tablename__ = "meeting_attendance"

    closure_id: Mapped[int] = mapped_column(ForeignKey("meeting_closure.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), default="referent")  # at the time: referents count as médiateurs


class Action(Base):
    __tablename__ = "meeting_action"

    id: Mapped[intpk]
    closure_id: Mapped[int] = mapped_column(ForeignKey("meeting_closure.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class NewClosure:
    meeting_id: int
    occurrence: datetime
    held_at: datetime
    present: dict[int, str]  # member id -> role
    summary: str | None
    actions: tuple[str, ...]
    others: int
    structures: int
    closed_by: int | None


async def find_closure(session: AsyncSession, meeting_id: int, occurrence: datetime) -> Closure | None:
    query = (select(Closure).where(Closure.meeting_id == meeting_id, Closure.occurrence == occurrence)
             .options(selectinload(Closure.attendees), selectinload(Closure.actions)))
    return (await session.execute(query)).scalar_one_or_none()


async def close_meeting(session: AsyncSession, new: NewClosure, now: datetime) -> Closure | None:
    """Record the date as held; None when it was closed already (two coordinators, or a double « Valider »)."""
    if await find_closure(session, new.meeting_id, new.occurrence) is not None:
        return None
    closure = Closure(meeting_id=new.meeting_id, occurrence=new.occurrence, held_at=new.held_at,
                      summary=new.summary, others=new.others, structures=new.structures, closed_by=new.closed_by,
                      closed_at=now)
    closure.attendees = [Attendance(member_id=m, role=r) for m, r in sorted(new.present.items())]
    closure.actions = [Action(position=i, text=text) for i, text in enumerate(new.actions, 1)]
    session.add(closure)
    await session.flush()
    return closure


async def closed_keys(session: AsyncSession, meeting_ids: Sequence[int]) -> set[tuple[int, datetime]]:
    query = select(Closure.meeting_id, Closure.occurrence).where(Closure.meeting_id.in_(list(meeting_ids)))
    return set((await session.execute(query)).tuples().all())


async def last_actions(session: AsyncSession, meeting_id: int, before: datetime) -> list[str]:
    """The actions decided at the meeting's latest closed date before `before` (they come back in reminders)."""
    query = (select(Closure).where(Closure.meeting_id == meeting_id, Closure.held_at < before)
             .order_by(Closure.held_at.desc()).limit(1).options(selectinload(Closure.actions)))
    closure = (await session.execute(query)).scalar_one_or_none()
    return [a.text for a in closure.actions] if closure else []


async def closures_between(session: AsyncSession, territory_ids: Sequence[int], start: datetime,
                           end: datetime) -> list[tuple[Closure, Meeting]]:
    """Dates held in [start, end) by meetings of these territories, oldest first (the Coop export)."""
    query = (select(Closure, Meeting).join(Meeting, Meeting.id == Closure.meeting_id)
             .where(Meeting.territory_id.in_(list(territory_ids)), Closure.held_at >= start, Closure.held_at < end)
             .order_by(Closure.held_at, Closure.id)
             .options(selectinload(Closure.attendees), selectinload(Closure.actions)))
    return [(c, m) for c, m in (await session.execute(query)).unique().tuples().all()]


DEMO_SUMMARY = ("Tour de table des permanences ; la CAF présentera son nouveau simulateur en visio. "
                "Deux nouvelles structures rejoignent le réseau.")
DEMO_ACTIONS = ("Karim recense les créneaux du samedi dans les médiathèques",
                "Claire relance la CAF pour un contact dédié aux référents",
                "Chacun teste le nouveau simulateur avant la prochaine réunion")


async def seed_demo_closure(session: AsyncSession, meeting: Meeting, now: datetime) -> None:
    """The demo series' last date, closed: who came, a summary, and actions that come back in the next reminder."""
    from storage.models import Member

    members = list((await session.execute(select(Member).where(Member.territory_id == meeting.territory_id)
                                          .order_by(Member.id))).unique().scalars())
    closer = next((m.id for m in members if m.role == "coordinator"), None)
    present = {m.id: m.role for m in members}
    new = NewClosure(meeting.id, meeting.starts_at, meeting.starts_at, present, DEMO_SUMMARY, DEMO_ACTIONS, 3, 5,
                     closer)
    await close_meeting(session, new, meeting.starts_at + meeting.length + timedelta(hours=1))
