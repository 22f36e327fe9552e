"""Sending a reply to a Matrix room: the notice, then its attachment (uploaded encrypted in encrypted rooms)."""

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

from bot.adapters.matrix.content import file_message, notice
from bot.events import Attachment, Delivery
from bot.transport import TransportError

UPLOAD_TIMEOUT = 120.0
_FAILURES = (ClientError, TimeoutError, LocalProtocolError, EncryptionError, GroupEncryptionError, OlmTrustError)
_PERMANENT = {"M_FORBIDDEN", "M_TOO_LARGE", "M_NOT_FOUND", "M_UNKNOWN_TOKEN"}


def refusal(response: object) -> TransportError:
    """The homeserver's error as a TransportError: 429 / M_LIMIT_EXCEEDED carries its retry_after (seconds)."""
    code = str(getattr(response, "status_code", "") or "")
    status = getattr(getattr(response, "transport_response", None), "status", 0)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        retry_ms = getattr(response, "retry_after_ms", None) or 5000
        return TransportError(f"matrix: rate limited ({response})", retry_after=retry_ms / 1000)
    return TransportError(f"matrix: {response}", permanent=code in _PERMANENT)


class Sender:
    """Delivers replies with the current client (None while disconnected)."""

    def __init__(self) -> None:
        self.client: AsyncClient | None = None
        # notices already sent for a reply whose attachment failed: a retry must not repeat them
        self._sent_text: dict[tuple[str, int], str] = {}

    async def send(self, delivery: Delivery) -> str:
        client = self.client
        if client is None:
            raise TransportError("matrix: not connected", retry_after=5)
        room = client.rooms.get(delivery.address.chat_id)
        if room is None:
            raise TransportError("matrix: the bot is not in this room", permanent=True)
        try:
            return await self._deliver(client, room, delivery)
        except TransportError:
            self._rotate(client, room)
            raise
        except _FAILURES as error:
            self._rotate(client, room)
            raise TransportError(f"matrix: {type(error).__name__} {error}") from error

    async def _deliver(self, client: AsyncClient, room: MatrixRoom, delivery: Delivery) -> str:
        reply = delivery.reply
        content = await self._upload(client, room, reply.attachment) if reply.attachment else None
        key = (room.room_id, hash(reply))
        event_id = self._sent_text.pop(key, "")
        if not event_id and (reply.text or reply.choices):
            event_id = await self._room_send(client, room, notice(reply, delivery.reply_to), txn(delivery, "text"))
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
    async def _upload(client: AsyncClient, room: MatrixRoom, attachment: Attachment) -> dict[str, Any]:
        response, keys = await asyncio.wait_for(
            client.upload(io.BytesIO(attachment.data), content_type=attachment.mime, filename=attachment.name,
                          encrypt=room.encrypted, filesize=len(attachment.data)), UPLOAD_TIMEOUT)
        if not isinstance(response, UploadResponse):
            raise refusal(response)
        return file_message(attachment, response.content_uri, keys)

    @staticmethod
    def _rotate(client: AsyncClient, room: MatrixRoom) -> None:
        """After a failed send, start a new encryption session: the old one may never have reached everyone."""
        if room.encrypted and client.olm is not None:
            client.olm.outbound_group_sessions.pop(room.room_id, None)


def txn(delivery: Delivery, part: str) -> str | None:
    """A transaction id stable across retries of one outbox message (None: let nio pick one)."""
    if not delivery.key:
        return None
    return f"relais-{hashlib.sha256(delivery.key.encode()).hexdigest()[:32]}-{part}"
