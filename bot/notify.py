"""Messages the bot initiates to a member: through the outbox, to the platform they joined from last."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Address, Reply
from bot.outbox import enqueue
from storage.models import Identity


async def member_address(session: AsyncSession, member_id: int) -> Address | None:
    query = (select(Identity).where(Identity.member_id == member_id)
             .order_by(Identity.created_at.desc(), Identity.id.desc()).limit(1))
    identity = (await session.execute(query)).scalar_one_or_none()
    if identity is None:
        return None
    return Address(identity.platform, identity.chat_id, identity.user_id, False)


async def notify_member(session: AsyncSession, member_id: int, key: str, reply: Reply, *, now: datetime,
                        due_at: datetime | None = None) -> bool:
    """Queue `reply` for the member once per `key`; False when they have no platform left or it was queued."""
    address = await member_address(session, member_id)
    if address is None:
        return False
    return await enqueue(session, key, address, reply, now=now, due_at=due_at) is not None
