"""What a scheduled job receives: its own transaction, the clock, settings, and the outbox to write to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings


@dataclass
class JobContext:
    session: AsyncSession
    clock: Clock
    settings: Settings
    grace_seconds: float = 6 * 3600  # a message missed by less than this during downtime is still sent
