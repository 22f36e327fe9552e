"""The audit log of coordinator and admin actions: ids and codes only, never message text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def record(session: AsyncSession, *, now: datetime, action: str, actor_id: int | None = None,
                 actor_label: str = "", target: str = "", **details: Any) -> None:
    session.add(AuditEntry(at=now, actor_id=actor_id, actor_label=actor_label or f"member:{actor_id}",
                           action=action, target=target, details=details))


async def recent(session: AsyncSession, limit: int = 50) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())
