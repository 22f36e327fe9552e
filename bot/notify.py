"""Messages the bot initiates to members: through the outbox, to the platform each joined from last."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Address, Reply
from bot.outbox import Outgoing, enqueue_many
from storage.db import upsert_insert
from storage.models import Conversation, Identity, Member

# How long a typed « 1 » still answers the buttons of a reminder (Matrix and the console show them as a list).
OFFER_TTL = timedelta(days=8)


def latest_address(identities: Sequence[Identity]) -> Address | None:
    """The private chat of the platform the member joined from last."""
    if not identities:
        return None
    identity = max(identities, key=lambda i: (i.created_at, i.id))
    return Address(identity.platform, identity.chat_id, identity.user_id, False)


async def notify_members(session: AsyncSession, members: Sequence[Member], key: Callable[[Member], str],
                         reply: Callable[[Member], Reply], *, now: datetime) -> int:
    """One message per member (worded for each), queued once per key; returns how many were added."""
    items = [Outgoing(key(m), address, reply(m)) for m in members if (address := latest_address(m.identities))]
    added = await enqueue_many(session, items, now=now)
    await offer_buttons(session, [i for i in items if i.reply.choices and i.reply.prompt_id], now=now)
    return len(added)


async def notify_member(session: AsyncSession, member_id: int, key: str, reply: Reply, *, now: datetime) -> bool:
    """Queue `reply` for the member once per `key`; False when they have no platform left or it was queued."""
    identities = (await session.execute(select(Identity).where(Identity.member_id == member_id))).scalars().all()
    address = latest_address(identities)
    if address is None:
        return False
    item = Outgoing(key, address, reply)
    added = await enqueue_many(session, [item], now=now)
    if reply.choices and reply.prompt_id:
        await offer_buttons(session, [item], now=now)
    return bool(added)


async def offer_buttons(session: AsyncSession, items: Sequence[Outgoing], *, now: datetime) -> None:
    """Let a typed « 1 » or label answer these stateless buttons (RSVP…), for people not in the middle of a flow:
    the core maps typed answers through the conversation's offered choices."""
    rows = [dict(platform=i.address.platform, chat_id=i.address.chat_id, user_id=i.address.user_id, step="",
                 data={}, prompt_id=i.reply.prompt_id, expires_at=now + OFFER_TTL, updated_at=now,
                 offered=[{"id": c.id, "label": c.label} for c in i.reply.choices]) for i in items]
    if not rows:
        return
    stmt = upsert_insert(session, Conversation)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "chat_id", "user_id"],
        set_={"prompt_id": stmt.excluded.prompt_id, "offered": stmt.excluded.offered,
              "expires_at": stmt.excluded.expires_at, "updated_at": stmt.excluded.updated_at},
        where=Conversation.step == "",  # someone in a flow keeps the flow's own choices
    )
    await session.execute(stmt, rows)
