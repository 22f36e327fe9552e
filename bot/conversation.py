"""Persisted multi-step flows: the state row is read under a lock and written in the handler's transaction."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Address, Choice
from storage.models import Conversation


class ConversationState:
    """The flow a person is in: a step name ("report.commune"), its data, and the choices last offered."""

    def __init__(self, address: Address, row: Conversation | None, now: datetime) -> None:
        self.address = address
        self._row = row
        expired = row is not None and row.expires_at is not None and row.expires_at <= now
        self.expired_step = row.step if expired and row else ""
        self.step: str = "" if row is None or expired else row.step
        self.data: dict[str, Any] = {} if row is None or expired else dict(row.data or {})
        self.prompt_id: str = "" if row is None or expired else row.prompt_id
        self.offered: list[Choice] = [] if row is None or expired else [
            Choice(str(c["id"]), str(c["label"])) for c in row.offered or []
        ]
        self.changed = expired

    def goto(self, step: str, **data: Any) -> None:
        """Move to `step`, merging `data` into what the flow already holds."""
        self.step = step
        self.data.update(data)
        self.changed = True

    def update(self, **data: Any) -> None:
        self.data.update(data)
        self.changed = True

    def forget(self, *keys: str) -> None:
        """Drop answers (to ask for them again, e.g. after « Modifier »)."""
        for key in keys:
            self.data.pop(key, None)
        self.changed = True

    def end(self) -> None:
        self.step, self.data, self.prompt_id, self.offered = "", {}, "", []
        self.changed = True

    def offer(self, choices: tuple[Choice, ...]) -> str:
        """Remember the choices just shown; returns the prompt id that ties answers to them."""
        self.prompt_id = "c" + secrets.token_hex(4)
        self.offered = list(choices)
        self.changed = True
        return self.prompt_id

    def clear_offer(self) -> None:
        if self.offered or self.prompt_id:
            self.prompt_id, self.offered, self.changed = "", [], True

    def find_choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.offered if c.id == choice_id), None)

    async def save(self, session: AsyncSession, now: datetime, ttl: timedelta) -> None:
        if not self.changed:
            return
        if not self.step and not self.offered:
            if self._row is not None:
                await session.delete(self._row)
            return
        row = self._row or Conversation(platform=self.address.platform, chat_id=self.address.chat_id,
                                        user_id=self.address.user_id)
        row.step, row.data, row.prompt_id = self.step, dict(self.data), self.prompt_id
        row.offered = [{"id": c.id, "label": c.label} for c in self.offered]
        row.updated_at, row.expires_at = now, now + ttl
        session.add(row)


async def load_conversation(session: AsyncSession, address: Address, now: datetime) -> ConversationState:
    """Read the state row, locked for the transaction on PostgreSQL (SQLite serialises writers itself)."""
    query = select(Conversation).where(
        Conversation.platform == address.platform,
        Conversation.chat_id == address.chat_id,
        Conversation.user_id == address.user_id,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    return ConversationState(address, row, now)

