"""Incoming platform messages already handled, so a retried update is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import upsert_insert
from storage.models import InboundEvent


async def first_time(session: AsyncSession, platform: str, event_key: str, now: datetime) -> bool:
    """Record the event; False when it was recorded before (then it must not be handled again)."""
    stmt = upsert_insert(session, InboundEvent).values(platform=platform, event_key=event_key[:200], received_at=now)
    result = await session.execute(stmt.on_conflict_do_nothing().returning(InboundEvent.id))
    return result.scalar_one_or_none() is not None

