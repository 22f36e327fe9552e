"""Incoming platform messages already handled, so a retried update is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent


async def first_time(session: AsyncSession, platform: str, event_key: str, now: datetime) -> bool:
    """Record the event; False when it was recorded before (then it must not be handled again)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(InboundEvent).values(platform=platform, event_key=event_key[:200], received_at=now)
    result = await session.execute(stmt.on_conflict_do_nothing().returning(InboundEvent.id))
    return result.scalar_one_or_none() is not None

