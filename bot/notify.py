"""Messages the bot initiates to members: through the outbox, to the platform each joined from last."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import offer_to
from bot.events import Address, Reply
from bot.outbox import Outgoing, enqueue_many
from storage.models import Identity, Member

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
    items = [Outgoing(key(m), address, _ringing(reply(m)))
             for m in members if (address := latest_address(m.identities))]
    added = await enqueue_many(session, items, now=now)
    await offer_buttons(session, [i for i in items if i.reply.choices and i.reply.prompt_id], now=now)
    return len(added)


async def notify_member(session: AsyncSession, member_id: int, key: str, reply: Reply, *, now: datetime) -> bool:
    """Queue `reply` for the member once per `key`; False when they have no platform left or it was queued."""
    identities = (await session.execute(select(Identity).where(Identity.member_id == member_id))).scalars().all()
    address = latest_address(identities)
    if address is None:
        return False
    item = Outgoing(key, address, _ringing(reply))
    added = await enqueue_many(session, [item], now=now)
    if reply.choices and reply.prompt_id:
        await offer_buttons(session, [item], now=now)
    return bool(added)


async def offer_buttons(session: AsyncSession, items: Sequence[Outgoing], *, now: datetime) -> None:
    """Let a typed « 1 » or label answer these stateless buttons (RSVP…) on platforms that show them as a list."""
    await offer_to(session, [(i.address, i.reply.prompt_id, i.reply.choices) for i in items], now=now, ttl=OFFER_TTL)


def _ringing(reply: Reply) -> Reply:
    """What the bot initiates is meant to be noticed: it notifies (Matrix sends it as m.text, not a notice)."""
    return replace(reply, notify=True)
