"""Core tables: territories, members and their platform identities, invitations, conversations, outbox, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base, intpk, str40, str200, utc

ROLES = ("referent", "coordinator", "admin")


class Territory(Base):
    """A node of région › département › réseau local, with its own time zone."""

    __tablename__ = "territory"

    id: Mapped[intpk]
    code: Mapped[str40] = mapped_column(unique=True)
    name: Mapped[str200]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    timezone: Mapped[str40] = mapped_column(default="Europe/Paris")
    created_at: Mapped[utc]

    parent: Mapped[Territory | None] = relationship(remote_side="Territory.id", lazy="raise")
    # Not loaded with every member (hot path): ask for it (selectinload) where the list is shown.
    communes: Mapped[list[TerritoryCommune]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="TerritoryCommune.insee"
    )


class TerritoryCommune(Base):
    __tablename__ = "territory_commune"

    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True)
    insee: Mapped[str] = mapped_column(String(5), primary_key=True, index=True)


class Member(Base):
    """A person of the network; `display_name` is the only personal field and is erased on request."""

    __tablename__ = "member"

    id: Mapped[intpk]
    display_name: Mapped[str200]
    role: Mapped[str] = mapped_column(String(20))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    usual_commune: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[utc]
    erased_at: Mapped[datetime | None]

    territory: Mapped[Territory] = relationship(lazy="joined")
    identities: Mapped[list[Identity]] = relationship(
        back_populates="member", lazy="selectin", cascade="all, delete-orphan"
    )


class Identity(Base):
    """A member's account on one platform (one member may use Telegram and Matrix)."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[intpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str200]
    # The private chat where the bot can reach this person first (reminders, notifications).
    chat_id: Mapped[str200]
    created_at: Mapped[utc]

    member: Mapped[Member] = relationship(back_populates="identities", lazy="raise")


class Invitation(Base):
    """A code that lets someone join with a role; only its SHA-256 is stored."""

    __tablename__ = "invitation"

    id: Mapped[intpk]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    uses_left: Mapped[int]
    expires_at: Mapped[utc]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[utc]


class Conversation(Base):
    """Where a person is in a multi-step flow; written in the same transaction as the handler's writes."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "user_id"),)

    id: Mapped[intpk]
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str200]
    user_id: Mapped[str200]
    step: Mapped[str] = mapped_column(String(80), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prompt_id: Mapped[str] = mapped_column(String(16), default="")
    offered: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[utc]


class InboundEvent(Base):
    """Platform messages already handled: a retried update is recognised and not handled twice."""

    __tablename__ = "inbound_event"
    __table_args__ = (UniqueConstraint("platform", "event_key"),)

    id: Mapped[intpk]
    platform: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str200]
    received_at: Mapped[utc] = mapped_column(index=True)


class OutboxMessage(Base):
    """A message waiting to be sent, or sent; `key` makes each one unique (kind, target, occurrence)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "failed_at", "due_at"),)

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str200]
    is_group: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(default=1)  # 0: answer to a user, 1: initiated by the bot
    created_at: Mapped[utc]
    due_at: Mapped[utc]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(200))


class AuditEntry(Base):
    """Who did what, when: coordinator and admin actions (ids, never message text)."""

    __tablename__ = "audit_entry"

    id: Mapped[intpk]
    at: Mapped[utc] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    actor_label: Mapped[str200]  # "cli", "member:12"
    action: Mapped[str40]
    target: Mapped[str200] = mapped_column(default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
