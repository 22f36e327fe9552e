"""Members, their platform identities and invitation codes (stored hashed, single use by default)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import ROLES, Identity, Invitation, Member

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud and type


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


async def find_member(session: AsyncSession, platform: str, user_id: str) -> Member | None:
    """The member behind a platform identity, with their territory and identities, in one statement (it runs for
    every message: its identities came in a second query)."""
    query = (select(Member).join(Identity).options(joinedload(Member.identities))
             .where(Identity.platform == platform, Identity.user_id == user_id, Member.erased_at.is_(None)))
    return (await session.execute(query)).unique().scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class NewInvitation:
    code: str  # shown once, never stored
    invitation: Invitation


async def create_invitation(session: AsyncSession, *, role: str, territory_id: int, now: datetime,
                            uses: int = 1, valid_for: timedelta = timedelta(days=14),
                            created_by: int | None = None) -> NewInvitation:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    code = f"{raw[:5]}-{raw[5:]}"
    invitation = Invitation(code_hash=hash_code(code), role=role, territory_id=territory_id, uses_left=uses,
                            expires_at=now + valid_for, created_by=created_by, created_at=now)
    session.add(invitation)
    await session.flush()
    return NewInvitation(code, invitation)


async def redeem_invitation(session: AsyncSession, code: str, now: datetime) -> Invitation | None:
    """Use one of the code's uses atomically; None when unknown, used up or expired."""
    result = await session.execute(
        update(Invitation)
        .where(Invitation.code_hash == hash_code(code), Invitation.uses_left > 0, Invitation.expires_at > now)
        .values(uses_left=Invitation.uses_left - 1)
        .returning(Invitation.id)
    )
    invitation_id = result.scalar_one_or_none()
    return await session.get(Invitation, invitation_id) if invitation_id else None


async def join(session: AsyncSession, invitation: Invitation, *, platform: str, user_id: str, chat_id: str,
               display_name: str, now: datetime) -> Member:
    member = Member(display_name=display_name[:200] or "Membre", role=invitation.role,
                    territory_id=invitation.territory_id, created_at=now)
    member.identities = [Identity(platform=platform, user_id=user_id, chat_id=chat_id, created_at=now)]
    session.add(member)
    await session.flush()
    await session.refresh(member, ["territory"])
    return member


async def members_of(session: AsyncSession, territory_ids: list[int]) -> list[Member]:
    query = (select(Member).where(Member.territory_id.in_(territory_ids), Member.erased_at.is_(None))
             .order_by(Member.id))
    return list((await session.execute(query)).unique().scalars())



async def active_members(session: AsyncSession, *, roles: Sequence[str], territory_ids: Sequence[int] | None,
                         besides: int) -> list[Member]:
    """Members not erased, of these roles, in these territories (None: all), by name; `besides` left out."""
    query = (select(Member).where(Member.erased_at.is_(None), Member.id != besides, Member.role.in_(roles))
             .order_by(Member.display_name, Member.id))
    if territory_ids is not None:
        query = query.where(Member.territory_id.in_(territory_ids))
    return list((await session.execute(query)).unique().scalars())
