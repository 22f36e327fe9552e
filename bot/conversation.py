"""The one owner of conversation state: the step a person is at, its data, the choices last shown, recent answers.

The row is read under a lock and written in the handler's transaction. Nothing else writes it: handlers go
through `ConversationState`, messages the bot initiates offer their buttons through `offer_to`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Address, Choice
from storage.db import upsert_insert
from storage.models import Conversation

RECENT = 5  # presses remembered, so a double tap is told « déjà pris en compte » rather than « pas compris »
_RECENT_KEY = "_recent"  # kept inside the row's data, never shown to handlers
_AGAIN_KEY = "_again"  # the last answer was to the last question shown: typing it again is a double, not news


@dataclass(frozen=True, slots=True)
class Answered:
    """A prompt already answered: its id, the choice taken and its label."""

    prompt_id: str
    choice_id: str
    label: str
    number: int = 0  # its place in the list shown (1-based): a number typed twice on Matrix or the console


class ConversationState:
    """The flow a person is in: a step name ("report.commune"), its data, and the choices last offered."""

    def __init__(self, address: Address, row: Conversation | None, now: datetime) -> None:
        self.address = address
        self._row = row
        expired = row is not None and row.expires_at is not None and row.expires_at <= now
        live = row is not None and not expired
        stored: dict[str, Any] = dict(row.data or {}) if row is not None and live else {}
        self.expired_step = row.step if expired and row else ""
        self.recent: list[Answered] = [Answered(*entry) for entry in stored.pop(_RECENT_KEY, [])]
        self.typed_again = bool(stored.pop(_AGAIN_KEY, False))
        self.step: str = row.step if row is not None and live else ""
        self.data: dict[str, Any] = stored
        self.prompt_id: str = row.prompt_id if row is not None and live else ""
        self.offered: list[Choice] = [
            Choice(str(c["id"]), str(c["label"]), tuple(c.get("aliases", ()))) for c in (row.offered or [])
        ] if row is not None and live else []
        self._offer_step = self.step  # the step the current choices belong to
        self.changed = expired

    # --- the flow --------------------------------------------------------------------------------------------
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
        """Leave the flow; recent answers are kept so a late double tap is recognised."""
        self.step, self.data, self.prompt_id, self.offered = "", {}, "", []
        self.changed = True

    @property
    def in_flow(self) -> bool:
        return bool(self.step)

    # --- choices shown ----------------------------------------------------------------------------------------
    def offer(self, choices: Sequence[Choice]) -> str:
        """Remember the choices just shown and return the prompt id that ties answers to them. The same choices
        asked again at the same step keep their id: the buttons shown before stay valid."""
        same = self.prompt_id and self._offer_step == self.step and list(choices) == self.offered
        if not same:
            self.prompt_id = "c" + secrets.token_hex(4)
            self.offered = list(choices)
            self.typed_again = False  # a new question: what is typed now answers it
        self._offer_step = self.step
        self.changed = True
        return self.prompt_id

    def settle(self) -> None:
        """After an answer without choices: choices of a step left behind are no longer valid; those of the
        step still under way stay valid (an error message does not kill the list shown just before)."""
        if self.offered and self._offer_step != self.step:
            self.prompt_id, self.offered, self.changed = "", [], True

    def find_choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.offered if c.id == choice_id), None)

    def answered(self, prompt_id: str, choice: Choice) -> None:
        """Remember a press (or typed choice) that was taken. Only the labels of the bot's own words are kept
        (« Envoyer »): a label may be a person's name, which must not outlive its use."""
        number = next((i for i, c in enumerate(self.offered, start=1) if c.id == choice.id), 0)
        entry = Answered(prompt_id, choice.id, choice.label if choice.aliases else "", number)
        self.recent = [entry, *[r for r in self.recent if r.prompt_id != prompt_id]][:RECENT]
        self.typed_again = prompt_id == self.prompt_id
        self.changed = True

    def already(self, prompt_id: str) -> Answered | None:
        return next((r for r in self.recent if r.prompt_id == prompt_id), None)

    def repeated(self) -> Answered | None:
        """The last answer, while nothing was asked since (so the same words or number typed again repeat it)."""
        return self.recent[0] if self.recent and self.typed_again else None

    async def save(self, session: AsyncSession, now: datetime, ttl: timedelta) -> None:
        if not self.changed:
            return
        if not self.step and not self.offered and not self.recent:
            if self._row is not None:
                await session.delete(self._row)
            return
        row = self._row or Conversation(platform=self.address.platform, chat_id=self.address.chat_id,
                                        user_id=self.address.user_id)
        data = dict(self.data)
        if self.recent:
            data[_RECENT_KEY] = [[r.prompt_id, r.choice_id, r.label, r.number] for r in self.recent]
        if self.typed_again:
            data[_AGAIN_KEY] = True
        row.step, row.data, row.prompt_id = self.step, data, self.prompt_id
        row.offered = [_choice_row(c) for c in self.offered]
        row.updated_at, row.expires_at = now, now + ttl
        session.add(row)


def _choice_row(choice: Choice) -> dict[str, Any]:
    row: dict[str, Any] = {"id": choice.id, "label": choice.label}
    if choice.aliases:
        row["aliases"] = list(choice.aliases)
    return row


async def load_conversation(session: AsyncSession, address: Address, now: datetime) -> ConversationState:
    """Read the state row, locked for the transaction. On PostgreSQL an advisory lock on the conversation's key
    serialises processes even before its row exists; SQLite serialises writers itself."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _lock_key(address)})
    query = select(Conversation).where(
        Conversation.platform == address.platform,
        Conversation.chat_id == address.chat_id,
        Conversation.user_id == address.user_id,
    )
    row = (await session.execute(query)).scalar_one_or_none()
    return ConversationState(address, row, now)


def _lock_key(address: Address) -> int:
    digest = hashlib.blake2b(f"{address.platform}\0{address.chat_id}\0{address.user_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def prompt_owner(session: AsyncSession, address: Address, prompt_id: str) -> str | None:
    """In a group: the user a prompt was shown to, when it is not the person who pressed it."""
    query = select(Conversation.user_id).where(
        Conversation.platform == address.platform, Conversation.chat_id == address.chat_id,
        Conversation.prompt_id == prompt_id, Conversation.user_id != address.user_id)
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def offer_to(session: AsyncSession, offers: Sequence[tuple[Address, str, Sequence[Choice]]], *,
                   now: datetime, ttl: timedelta) -> None:
    """Buttons of messages the bot initiates (a reminder's RSVP): a typed « 1 » or label answers them too, for
    people not in the middle of a flow (someone in a flow keeps the flow's own choices)."""
    rows = [dict(platform=a.platform, chat_id=a.chat_id, user_id=a.user_id, step="", data={}, prompt_id=prompt_id,
                 expires_at=now + ttl, updated_at=now, offered=[_choice_row(c) for c in choices])
            for a, prompt_id, choices in offers]
    if not rows:
        return
    stmt = upsert_insert(session, Conversation)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "chat_id", "user_id"],
        set_={"prompt_id": stmt.excluded.prompt_id, "offered": stmt.excluded.offered,
              "expires_at": stmt.excluded.expires_at, "updated_at": stmt.excluded.updated_at},
        where=Conversation.step == "",
    )
    await session.execute(stmt, rows)
