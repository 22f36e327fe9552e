"""Chats that change under the bot: a group that moved to a new id, a chat the bot can no longer write to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Address, Reply
from bot.i18n import t
from storage.groups import (
    coordinators_to_tell,
    group_of,
    mark_unreachable,
    move_chat,
    reachable_again,
    unreachable_among,
)
from storage.models import OutboxMessage, Territory


async def follow_chat(session: AsyncSession, platform: str, old: str, new: str) -> None:
    """A chat changed id (a Telegram group upgraded to a supergroup): its queued messages and its group link
    follow it."""
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.platform == platform, OutboxMessage.chat_id == old, OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None)).values(chat_id=new))
    await move_chat(session, platform, old, new)


async def stop_writing(session: AsyncSession, platform: str, chat_id: str, reason: str,
                       now: datetime) -> list[tuple[str, Address, Reply]]:
    """The bot was removed from the chat or blocked there: mark it and drop what was queued for it. Returns the
    notices to queue (key, where, what) for the coordinators when it was a group linked to their territory."""
    if not await mark_unreachable(session, platform, chat_id, reason, now):
        return []
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id, OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None)).values(failed_at=now, last_error="chat unreachable", payload={}))
    link = await group_of(session, platform, chat_id)
    territory = await session.get(Territory, link.territory_id) if link is not None else None
    if territory is None:
        return []
    reply = Reply(t("chats.group_gone", territory=territory.name), notify=True)
    return [(f"chat-gone:{platform}:{chat_id}:{now:%Y%m%d%H%M}:{i.member_id}",
             Address(i.platform, i.chat_id, i.user_id), reply)
            for i in await coordinators_to_tell(session, territory.id)]


async def unreachable_targets(session: AsyncSession,
                              targets: Iterable[tuple[str, str, bool]]) -> set[tuple[str, str]]:
    """Of these (platform, chat, is an answer) targets, the chats nothing may be queued for. An answer to
    someone who just wrote from a chat marked unreachable (unblocked, added back) makes it reachable again."""
    found: set[tuple[str, str]] = set()
    targets = list(targets)
    for platform in {p for p, _, _ in targets}:
        answered = [chat for p, chat, answer in targets if p == platform and answer]
        await reachable_again(session, platform, answered)
        others = [chat for p, chat, answer in targets if p == platform and not answer]
        found |= {(platform, chat) for chat in await unreachable_among(session, platform, others)}
    return found
