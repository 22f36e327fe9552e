"""Urgent-report alerts: quiet hours per territory (inherited down the tree) and coordinators who turned them off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utc
from storage.db import upsert_insert
from storage.models import Member
from storage.territories import TerritoryTree


class QuietHours(Base):
    """When a territory's coordinators are not pinged (local time); sub-territories without their own inherit it."""

    __tablename__ = "alert_quiet_hours"

    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True)
    starts: Mapped[str] = mapped_column(String(5))  # "20:00"
    ends: Mapped[str] = mapped_column(String(5))  # "08:00"
    updated_at: Mapped[utc]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))


class AlertsOff(Base):
    """A coordinator who asked not to receive urgent alerts (/alertes non)."""

    __tablename__ = "alert_off"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), primary_key=True)
    since: Mapped[utc]


@dataclass(frozen=True, slots=True)
class Quiet:
    starts: time
    ends: time

    def holds(self, local: time) -> bool:
        """True inside the quiet span; a span over midnight (20:00–08:00) wraps; equal ends mean never quiet."""
        if self.starts == self.ends:
            return False
        if self.starts < self.ends:
            return self.starts <= local < self.ends
        return local >= self.starts or local < self.ends


DEFAULT_QUIET = Quiet(time(20, 0), time(8, 0))


def parse_hhmm(text: str) -> time:
    hour, _, minute = text.partition(":")
    return time(int(hour), int(minute or 0))


async def quiet_plan(session: AsyncSession) -> dict[int, Quiet]:
    """Every territory's quiet hours: its own, its nearest ancestor's, else 20 h–8 h."""
    own = {q.territory_id: Quiet(parse_hhmm(q.starts), parse_hhmm(q.ends))
           for q in (await session.execute(select(QuietHours))).scalars()}
    return (await TerritoryTree.load(session)).inherited(own, DEFAULT_QUIET)


async def set_quiet_hours(session: AsyncSession, territory_id: int, quiet: Quiet, *, now: datetime,
                          by: int | None) -> None:
    row = await session.get(QuietHours, territory_id)
    if row is None:
        row = QuietHours(territory_id=territory_id)
        session.add(row)
    row.starts, row.ends = f"{quiet.starts:%H:%M}", f"{quiet.ends:%H:%M}"
    row.updated_at, row.updated_by = now, by


async def alerts_on(session: AsyncSession, member_id: int) -> bool:
    return await session.get(AlertsOff, member_id) is None


async def switch_alerts(session: AsyncSession, member_id: int, on: bool, now: datetime) -> None:
    if on:
        await session.execute(delete(AlertsOff).where(AlertsOff.member_id == member_id))
        return
    stmt = upsert_insert(session, AlertsOff).values(member_id=member_id, since=now)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["member_id"]))


async def coordinators_to_alert(session: AsyncSession, territory_ids: Sequence[int]) -> list[Member]:
    """Coordinators of these territories (the report's and the ones above it) who keep alerts on."""
    off = select(AlertsOff.member_id)
    query = (select(Member).where(Member.role == "coordinator", Member.territory_id.in_(list(territory_ids)),
                                  Member.erased_at.is_(None), Member.id.not_in(off))
             .order_by(Member.id))
    return list((await session.execute(query)).unique().scalars())
