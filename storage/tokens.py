"""API tokens of the coordinating service: shown once, stored as SHA-256, scoped to a territory subtree."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, str200, utc

# What each scope lets a token read (one line each: the CLI and notes/security-readme.md show them). A feature that
# needs its own export adds its scope here; a token sees only what its scopes name, within its territory subtree.
SCOPES: dict[str, str] = {
    "stats": "comptes agrégés (/api/v1/stats), par jour au plus fin, petites cases masquées",
    "reports": "signalements ligne à ligne, descriptions masquées (/api/v1/reports, /api/v1/reports.csv)",
    "coop": "activités de coordination au format de la Coop de la médiation numérique "
            "(/api/v1/coordination.xlsx, .csv)",
}
DEFAULT_SCOPES = ("stats",)
PREFIX = "rl_"


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[intpk]
    name: Mapped[str200]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(12))  # the first characters, to recognise it in a list
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    scopes: Mapped[str200]  # space-separated
    created_at: Mapped[utc]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes.split()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # printed once, never stored
    row: ApiToken


async def create_token(session: AsyncSession, *, name: str, territory_id: int, scopes: tuple[str, ...],
                       now: datetime, expires_at: datetime | None) -> NewToken:
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"portée inconnue : {', '.join(sorted(unknown))} (possibles : {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError(f"au moins une portée est nécessaire (possibles : {', '.join(SCOPES)})")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), hint=token[:10], territory_id=territory_id,
                   scopes=" ".join(scopes), created_at=now, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return NewToken(token, row)


async def find_valid(session: AsyncSession, token: str, now: datetime) -> ApiToken | None:
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row


async def all_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.execute(select(ApiToken).order_by(ApiToken.id))).scalars())
