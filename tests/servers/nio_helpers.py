"""Small matrix-nio helpers (end-to-end encryption included) for tests against a real Synapse."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias, TypeVar

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedMembersResponse,
    JoinResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

Message: TypeAlias = RoomMessageText | RoomMessageNotice
ENCRYPTION_STATE = {
    "type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}
}
POLL_MS = 500
# The default sync timeline limit (10 events) leaves gaps when a client falls behind: ask for more.
SYNC_FILTER = {"room": {"timeline": {"limit": 200}}}
T = TypeVar("T")


class MatrixHelperError(RuntimeError):
    """A Matrix request made by a test helper failed."""


@dataclass
class _Inbox:
    """Every text/notice message a client has seen (decrypted when encrypted), in arrival order."""

    messages: list[tuple[str, Message]] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    undecrypted: list[tuple[str, MegolmEvent]] = field(default_factory=list)

    def on_message(self, room: MatrixRoom, event: Message) -> None:
        self.messages.append((room.room_id, event))

    def on_undecrypted(self, room: MatrixRoom, event: MegolmEvent) -> None:
        self.undecrypted.append((room.room_id, event))


_INBOXES: weakref.WeakKeyDictionary[AsyncClient, _Inbox] = weakref.WeakKeyDictionary()


def _inbox(client: AsyncClient) -> _Inbox:
    inbox = _INBOXES.get(client)
    if inbox is None:
        inbox = _INBOXES[client] = _Inbox()
        client.add_event_callback(inbox.on_message, (RoomMessageText, RoomMessageNotice))
        client.add_event_callback(inbox.on_undecrypted, MegolmEvent)
    return inbox


def _check(response: object, expected: type[T], what: str) -> T:
    if not isinstance(response, expected):
        raise MatrixHelperError(f"{what} failed: {response}")
    return response


async def make_client(hs_url: str, user_id: str, token: str, store_dir: Path | str) -> AsyncClient:
    """An E2E-capable client logged in with ``token``: device from whoami, keys uploaded, synced once."""
    store = Path(store_dir)
    store.mkdir(parents=True, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = AsyncClient(hs_url, user_id, store_path=str(store), config=config)
    try:
        client.access_token = token
        whoami = _check(await client.whoami(), WhoamiResponse, f"whoami for {user_id}")
        if not whoami.device_id:
            raise MatrixHelperError(f"whoami for {user_id} returned no device id")
        client.restore_login(whoami.user_id, whoami.device_id, token)  # loads the Olm account and store
        _inbox(client)
        await sync_once(client)
    except BaseException:
        await client.close()
        raise
    return client


async def sync_once(client: AsyncClient, timeout_ms: int = 0) -> None:
    """One sync (long-polling ``timeout_ms``), then the key upkeep ``sync_forever`` would do."""
    response = await client.sync(timeout=timeout_ms, sync_filter=SYNC_FILTER)
    _check(response, SyncResponse, f"sync of {client.user_id}")
    await client.send_to_device_messages()
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())


async def sync_until(
    client: AsyncClient, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Sync until ``predicate()`` holds; ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{client.user_id}: {what} not reached within {timeout:.1f} s")
        await sync_once(client, timeout_ms=max(1, min(POLL_MS, int(remaining * 1000))))


async def _share_keys_with_members(client: AsyncClient, room_id: str, timeout: float) -> None:
    """Make sure the device keys of every joined member are known before encrypting for them."""
    members = _check(await client.joined_members(room_id), JoinedMembersResponse, f"members of {room_id}")
    deadline = time.monotonic() + timeout
    while True:
        if client.should_query_keys:
            await client.keys_query()
        others = {m.user_id for m in members.members} - {client.user_id}
        missing = {user for user in others if not any(client.device_store.active_user_devices(user))}
        if not missing or time.monotonic() > deadline:
            return  # members without any e2e device (e.g. API-only users) simply get nothing
        assert client.olm is not None
        client.olm.add_changed_users(missing)
        await sync_once(client, timeout_ms=200)


async def send_text(
    client: AsyncClient, room_id: str, text: str, notice: bool = False, keys_timeout: float = 10.0
) -> str:
    """Send ``text`` (encrypted if the room is, trusting every device); return the event id."""
    if room_id not in client.rooms:
        await sync_until(client, lambda: room_id in client.rooms, what=f"room {room_id} known")
    if client.rooms[room_id].encrypted:
        await _share_keys_with_members(client, room_id, keys_timeout)
    content = {"msgtype": "m.notice" if notice else "m.text", "body": text}
    response = await client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
    return _check(response, RoomSendResponse, f"send to {room_id}").event_id


async def send_content(client: AsyncClient, room_id: str, content: Mapping[str, object],
                       keys_timeout: float = 10.0) -> str:
    """Send any m.room.message content (a thread, a reply, a file…), encrypted if the room is."""
    if room_id not in client.rooms:
        await sync_until(client, lambda: room_id in client.rooms, what=f"room {room_id} known")
    if client.rooms[room_id].encrypted:
        await _share_keys_with_members(client, room_id, keys_timeout)
    response = await client.room_send(room_id, "m.room.message", dict(content), ignore_unverified_devices=True)
    return _check(response, RoomSendResponse, f"send to {room_id}").event_id


async def wait_for_invitation(client: AsyncClient, timeout: float = 10.0) -> str:
    """The id of a room this client is invited to and has not joined yet."""
    await sync_until(client, lambda: bool(client.invited_rooms), timeout, what="an invitation")
    return next(iter(client.invited_rooms))


async def create_room(client: AsyncClient, invite: list[str], encrypted: bool, is_direct: bool = False) -> str:
    """A private room (no is_direct unless asked) with these people invited."""
    response = await client.room_create(
        is_direct=is_direct, preset=RoomPreset.private_chat, invite=invite,
        initial_state=[ENCRYPTION_STATE] if encrypted else [],
    )
    room_id = _check(response, RoomCreateResponse, "create room").room_id
    await sync_until(client, lambda: room_id in client.rooms, what=f"room {room_id} known")
    return room_id


async def wait_for_message(
    client: AsyncClient,
    room_id: str,
    predicate: Callable[[Message], bool] | None = None,
    timeout: float = 10.0,
    from_others: bool = True,
) -> Message:
    """Next not-yet-returned text/notice in ``room_id`` (decrypted) matching ``predicate``.

    Messages are collected from the client's creation on, so one that arrived during an earlier sync is
    found too. With ``from_others`` the client's own messages are skipped.
    """
    inbox = _inbox(client)

    def find() -> Message | None:
        for index, (event_room, event) in enumerate(inbox.messages):
            if index in inbox.consumed or event_room != room_id:
                continue
            if from_others and event.sender == client.user_id:
                continue
            if predicate is None or predicate(event):
                inbox.consumed.add(index)
                return event
        return None

    found: list[Message] = []

    def done() -> bool:
        event = find()
        if event is not None:
            found.append(event)
        return bool(found)

    try:
        await sync_until(client, done, timeout, what=f"message in {room_id}")
    except TimeoutError as exc:
        seen = [f"{e.sender}: {e.body!r}" for r, e in inbox.messages if r == room_id][-5:]
        undecrypted = sum(1 for r, _ in inbox.undecrypted if r == room_id)
        raise TimeoutError(f"{exc}; last messages seen {seen}; undecryptable events: {undecrypted}") from None
    return found[0]


async def create_dm(client: AsyncClient, invitee: str, encrypted: bool) -> str:
    """Create a direct chat with ``invitee`` (invited, same power level), optionally encrypted."""
    response = await client.room_create(
        is_direct=True,
        preset=RoomPreset.trusted_private_chat,
        invite=[invitee],
        initial_state=[ENCRYPTION_STATE] if encrypted else [],
    )
    room_id = _check(response, RoomCreateResponse, f"create room with {invitee}").room_id
    await sync_until(client, lambda: room_id in client.rooms, what=f"room {room_id} known")
    return room_id


async def join(client: AsyncClient, room_id: str, timeout: float = 10.0) -> None:
    """Join ``room_id`` (invited or public) and sync until the room is known."""
    _check(await client.join(room_id), JoinResponse, f"join {room_id}")
    await sync_until(client, lambda: room_id in client.rooms, timeout, what=f"room {room_id} joined")


__all__ = [
    "ENCRYPTION_STATE",
    "MatrixHelperError",
    "Message",
    "create_dm",
    "create_room",
    "join",
    "make_client",
    "send_content",
    "send_text",
    "sync_once",
    "sync_until",
    "wait_for_invitation",
    "wait_for_message",
]
