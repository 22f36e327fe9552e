"""Sending a reply to a Matrix room: the text, then its attachment (uploaded encrypted in encrypted rooms); private
content only to the room that is private with the person now."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    EncryptionError,
    GroupEncryptionError,
    LocalProtocolError,
    MatrixRoom,
    OlmTrustError,
    RoomSendResponse,
    UploadResponse,
)

from bot.adapters.matrix.content import Target, file_message, message
from bot.adapters.matrix.rooms import DirectRooms, open_direct_room
from bot.events import Attachment, Delivery
from bot.transport import TransportError

UPLOAD_TIMEOUT = 120.0
_FAILURES = (ClientError, TimeoutError, LocalProtocolError)
_SHARING_FAILURES = (EncryptionError, GroupEncryptionError, OlmTrustError)
_PERMANENT = {"M_FORBIDDEN", "M_TOO_LARGE", "M_NOT_FOUND", "M_UNKNOWN_TOKEN"}


def refusal(response: object) -> TransportError:
    """The homeserver's error as a TransportError: 429 / M_LIMIT_EXCEEDED carries its retry_after (seconds)."""
    code = str(getattr(response, "status_code", "") or "")
    status = getattr(getattr(response, "transport_response", None), "status", 0)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        retry_ms = getattr(response, "retry_after_ms", None) or 5000
        return TransportError(f"matrix: rate limited ({response})", retry_after=retry_ms / 1000, rate_limited=True)
    return TransportError(f"matrix: {response}", permanent=code in _PERMANENT)


class Sender:
    """Delivers replies with the current client (None while disconnected)."""

    def __init__(self, direct: DirectRooms | None = None) -> None:
        self.client: AsyncClient | None = None
        self.direct = direct
        # notices already sent for a reply whose attachment failed: a retry must not repeat them
        self._sent_text: dict[tuple[str, int], str] = {}
        self.sent_ids: dict[str, None] = {}  # the bot's recent events: a reply to one is addressed to the bot

    async def send(self, delivery: Delivery) -> str:
        client = self.client
        if client is None:
            raise TransportError("matrix: not connected", retry_after=5)
        room = await self._room(client, delivery)
        try:
            event_id = await self._deliver(client, room, delivery)
        except TransportError:
            raise  # a refusal (429 included) leaves the encryption session as it is: nothing was half shared
        except _SHARING_FAILURES as error:
            self._rotate(client, room)
            raise TransportError(f"matrix: {type(error).__name__} {error}") from error
        except _FAILURES as error:
            raise TransportError(f"matrix: {type(error).__name__} {error}") from error
        self._remember(event_id)
        return event_id

    async def _room(self, client: AsyncClient, delivery: Delivery) -> MatrixRoom:
        """The room to send to: a group as addressed; private content to the room private with the person now
        (a new direct room is opened when they left it or someone else joined)."""
        address = delivery.address
        room = client.rooms.get(address.chat_id)
        if address.is_group or self.direct is None:
            if room is None:
                raise TransportError("matrix: the bot is not in this room", permanent=True)
            return room
        person = address.user_id or self.direct.person(address.chat_id)
        if room is not None and (self.direct.private(room, person, invited_ok=True) or (
                not person and room.joined_count <= 2)):
            return room
        if not person:
            raise TransportError("matrix: not a private room, and whose it is is unknown", permanent=True)
        current = self.direct.current(client.rooms, person)
        if current:
            return client.rooms[current]
        return await self._open(client, person, encrypted=room.encrypted if room is not None else True)

    async def _open(self, client: AsyncClient, person: str, *, encrypted: bool) -> MatrixRoom:
        assert self.direct is not None
        room_id = await open_direct_room(client, person, encrypted)
        if not room_id:
            raise TransportError("matrix: could not open a private room", retry_after=60)
        self.direct.mark(room_id, person)
        # The room is known to the client after the next sync: the outbox tries again in a moment.
        raise TransportError("matrix: a new private room is being opened", retry_after=2)

    def _remember(self, event_id: str) -> None:
        if event_id:
            self.sent_ids[event_id] = None
            if len(self.sent_ids) > 5000:
                del self.sent_ids[next(iter(self.sent_ids))]

    async def _deliver(self, client: AsyncClient, room: MatrixRoom, delivery: Delivery) -> str:
        reply, address = delivery.reply, delivery.address
        target = Target(address.user_id, room.user_name(address.user_id) or "" if address.user_id else "",
                        address.is_group, address.thread_id, delivery.reply_to)
        content = await self._upload(client, room, reply.attachment, target) if reply.attachment else None
        key = (room.room_id, hash(reply))
        event_id = self._sent_text.pop(key, "")
        if not event_id and (reply.text or reply.choices):
            event_id = await self._room_send(client, room, message(reply, target), txn(delivery, "text"))
        if content is None:
            return event_id
        if len(self._sent_text) > 1000:
            self._sent_text.clear()
        self._sent_text[key] = event_id
        file_event_id = await self._room_send(client, room, content, txn(delivery, "file"))
        self._sent_text.pop(key, None)
        return file_event_id

    @staticmethod
    async def _room_send(client: AsyncClient, room: MatrixRoom, content: dict[str, Any], tx_id: str | None) -> str:
        # Unverified devices get the keys too: nobody is left unable to read the bot (it cannot verify anyone).
        # The transaction id comes from the outbox key: a retried send is de-duplicated by the homeserver.
        response = await client.room_send(room.room_id, "m.room.message", content, ignore_unverified_devices=True,
                                          tx_id=tx_id)
        if isinstance(response, RoomSendResponse):
            return response.event_id
        raise refusal(response)

    @staticmethod
    async def _upload(client: AsyncClient, room: MatrixRoom, attachment: Attachment,
                      target: Target) -> dict[str, Any]:
        response, keys = await asyncio.wait_for(
            client.upload(io.BytesIO(attachment.data), content_type=attachment.mime, filename=attachment.name,
                          encrypt=room.encrypted, filesize=len(attachment.data)), UPLOAD_TIMEOUT)
        if not isinstance(response, UploadResponse):
            raise refusal(response)
        return file_message(attachment, response.content_uri, keys, target)

    @staticmethod
    def _rotate(client: AsyncClient, room: MatrixRoom) -> None:
        """After a failure while sharing the room key, start a new session: the old one may be half shared.

        Not after a refusal of the message itself (a 429): the key reached every device; rotating there made
        every throttled send re-share a session with every device of the room."""
        if room.encrypted and client.olm is not None:
            client.olm.outbound_group_sessions.pop(room.room_id, None)


def txn(delivery: Delivery, part: str) -> str | None:
    """A transaction id stable across retries of one outbox message (None: let nio pick one)."""
    if not delivery.key:
        return None
    return f"relais-{hashlib.sha256(delivery.key.encode()).hexdigest()[:32]}-{part}"
