"""The one typed Context a handler receives: who speaks, where, the open transaction, the flow, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.conversation import ConversationState
from bot.events import Address
from storage.models import Member


@dataclass
class Context:
    session: AsyncSession
    address: Address
    member: Member | None
    conversation: ConversationState
    clock: Clock
    settings: Settings
    event_key: str = ""  # stable id of the incoming message, for idempotent writes
    routes: object = field(default=None, repr=False)  # bot.router.Routes, for /aide
    left_step: str = ""  # the flow a command just left ("" when none): /annuler says whether there was one

    @property
    def role(self) -> str:
        return self.member.role if self.member else "stranger"

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def tz(self) -> ZoneInfo:
        name = self.member.territory.timezone if self.member else "Europe/Paris"
        return ZoneInfo(name)
