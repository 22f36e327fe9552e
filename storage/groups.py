"""Group chats (Telegram groups, Matrix rooms) linked to a territory: where the weekly digest is posted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, str200, utc


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
