"""Encrypted messages the bot could not read yet: retried after each sync, the sender asked to resend later."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nio import AsyncClient, EncryptionError, MatrixRoom, MegolmEvent
from nio.events import Event as NioEvent

from bot.adapters.matrix.outbound import Sender
from bot.events import Address, Delivery, Reply
from bot.i18n import t
from bot.transport import TransportError

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    room: MatrixRoom
    event: MegolmEvent
    since: float


class Undecrypted:
    """The room key of a message often arrives a sync after the message itself; sometimes it never comes.

    After `ask_after` seconds the person is asked (in a DM only, at most once per `give_up_after`) to send
    the message again; in a group room it is retried quietly for `give_up_after` seconds.
    """

    def __init__(self, ask_after: float = 30.0, give_up_after: float = 600.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ask_after, self.give_up_after, self._now = ask_after, give_up_after, monotonic
        self._pending: dict[str, _Pending] = {}
        self._asked: dict[str, float] = {}  # room id -> when

    def add(self, room: MatrixRoom, event: MegolmEvent) -> None:
        if event.sender != room.own_user_id and event.event_id not in self._pending:
            log.info("matrix: a message cannot be decrypted yet (session %s)", event.session_id[:8])
            self._pending[event.event_id] = _Pending(room, event, self._now())

    async def retry(self, client: AsyncClient, sender: Sender) -> list[tuple[MatrixRoom, list[NioEvent]]]:
        """The messages that became readable, grouped by room in arrival order."""
        readable: dict[str, tuple[MatrixRoom, list[NioEvent]]] = {}
        for event_id, pending in list(self._pending.items()):
            try:
                event = client.decrypt_event(pending.event)
            except EncryptionError:
                await self._ask_or_forget(event_id, pending, sender)
                continue
            del self._pending[event_id]
            readable.setdefault(pending.room.room_id, (pending.room, []))[1].append(event)
        return list(readable.values())

    async def _ask_or_forget(self, event_id: str, pending: _Pending, sender: Sender) -> None:
        """In a DM the person is asked once to resend (and the message forgotten); a group waits quietly."""
        age, room = self._now() - pending.since, pending.room
        if age < self.ask_after:
            return
        if room.joined_count > 2:
            if age > self.give_up_after:
                del self._pending[event_id]
            return
        del self._pending[event_id]
        if self._now() - self._asked.get(room.room_id, -self.give_up_after) < self.give_up_after:
            return
        self._asked[room.room_id] = self._now()
        address = Address("matrix", room.room_id, pending.event.sender)
        try:
            await sender.send(Delivery(address, Reply(t("matrix.undecryptable"))))
        except TransportError as error:
            log.warning("matrix: could not ask for a message to be resent: %s", error)
