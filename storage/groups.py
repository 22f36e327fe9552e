"""Group chats (Telegram groups, Matrix rooms) linked to a territory, where the weekly digest is posted; chats
that moved (a group upgraded to a supergroup) or that the bot can no longer reach."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, str200, utc
from storage.models import Identity, Member


class GroupLink(Base):
    __tablename__ = "group_link"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[intpk]
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str200]
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"), index=True)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    linked_at: Mapped[utc]
    digest_weekday: Mapped[int] = mapped_column(default=0)  # Monday
    digest_time: Mapped[str] = mapped_column(String(5), default="08:30")  # territory's local time


async def link_group(session: AsyncSession, *, platform: str, chat_id: str, territory_id: int, member_id: int,
                     now: datetime) -> GroupLink:
    """Link (or re-link) a group chat to a territory."""
    query = select(GroupLink).where(GroupLink.platform == platform, GroupLink.chat_id == chat_id)
    link = (await session.execute(query)).scalar_one_or_none()
    if link is None:
        link = GroupLink(platform=platform, chat_id=chat_id, territory_id=territory_id)
        session.add(link)
    link.territory_id, link.linked_by, link.linked_at = territory_id, member_id, now
    await session.flush()
    return link


async def group_of(session: AsyncSession, platform: str, chat_id: str) -> GroupLink | None:
    query = select(GroupLink).where(GroupLink.platform == platform, GroupLink.chat_id == chat_id)
    return (await session.execute(query)).scalar_one_or_none()


async def all_links(session: AsyncSession) -> list[GroupLink]:
    return list((await session.execute(select(GroupLink).order_by(GroupLink.id))).scalars())


class UnreachableChat(Base):
    """A chat the bot can no longer write to: removed from the group, blocked by the person. Nothing more is
    queued for it until someone writes to the bot from there again."""

    __tablename__ = "unreachable_chat"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[intpk]
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str200]
    since: Mapped[utc]
    reason: Mapped[str] = mapped_column(String(200), default="")


async def move_chat(session: AsyncSession, platform: str, old: str, new: str) -> GroupLink | None:
    """A chat changed id (a Telegram group upgraded to a supergroup): its link follows; the link when there is one."""
    link = await group_of(session, platform, old)
    if link is not None and await group_of(session, platform, new) is None:
        link.chat_id = new
        await session.flush()
    return link


async def mark_unreachable(session: AsyncSession, platform: str, chat_id: str, reason: str, now: datetime) -> bool:
    """Remember that the bot cannot write there; True when it was not known yet."""
    query = select(UnreachableChat).where(UnreachableChat.platform == platform, UnreachableChat.chat_id == chat_id)
    if (await session.execute(query)).scalar_one_or_none() is not None:
        return False
    session.add(UnreachableChat(platform=platform, chat_id=chat_id, since=now, reason=reason[:200]))
    await session.flush()
    return True


async def reachable_again(session: AsyncSession, platform: str, chat_ids: Iterable[str]) -> None:
    """Someone wrote from these chats: the bot may write there again."""
    ids = list(set(chat_ids))
    if ids:
        await session.execute(delete(UnreachableChat).where(UnreachableChat.platform == platform,
                                                            UnreachableChat.chat_id.in_(ids)))


async def unreachable_among(session: AsyncSession, platform: str, chat_ids: Iterable[str]) -> set[str]:
    ids = list(set(chat_ids))
    if not ids:
        return set()
    query = select(UnreachableChat.chat_id).where(UnreachableChat.platform == platform,
                                                  UnreachableChat.chat_id.in_(ids))
    return set((await session.execute(query)).scalars())


async def coordinators_to_tell(session: AsyncSession, territory_id: int) -> list[Identity]:
    """The private chats of the territory's coordinators (the platform each joined from last)."""
    query = (select(Identity).join(Member, Member.id == Identity.member_id)
             .where(Member.territory_id == territory_id, Member.role.in_(("coordinator", "admin")),
                    Member.erased_at.is_(None)).order_by(Identity.created_at, Identity.id))
    latest: dict[int, Identity] = {}
    for identity in (await session.execute(query)).scalars():
        latest[identity.member_id] = identity
    return list(latest.values())
