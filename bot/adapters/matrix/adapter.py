"""Matrix adapter (matrix-nio, end-to-end encryption on): a resumable sync loop, invitations, private rooms that
follow membership, files, replies as notices (or ringing texts when they must be seen)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence, Set

from aiohttp import ClientError
from nio import (
    AsyncClient,
    InviteInfo,
    InviteMemberEvent,
    JoinResponse,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    RoomMessagesResponse,
    SyncResponse,
)
from nio.events import Event as NioEvent

from bot.adapters.matrix.cross_signing import Account, CrossSigningError, CrossSigningKeys, ensure_cross_signed
from bot.adapters.matrix.files import fetch
from bot.adapters.matrix.inbound import Hearing, after_own_arrival, to_event
from bot.adapters.matrix.outbound import Sender
from bot.adapters.matrix.rooms import DirectRooms, leave_empty_rooms
from bot.adapters.matrix.session import (
    MatrixConfig,
    MatrixLoginError,
    MatrixUnavailable,
    SessionFiles,
    log_in,
    new_client,
    server_allowed,
    server_of,
)
from bot.adapters.matrix.undecrypted import Undecrypted
from bot.config import Settings
from bot.events import Delivery, FileReceived
from bot.ratelimit import Limits
from bot.transport import Commands, EventSink, TransportError

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
MAX_MISSED = 2000  # events fetched back per room when a sync skipped some (bot down a long time)


class SyncFailed(RuntimeError):
    def __init__(self, response: object) -> None:
        super().__init__(str(response))
        self.code = str(getattr(response, "status_code", "") or "")
        retry_ms = getattr(response, "retry_after_ms", None)
        self.retry_after = retry_ms / 1000 if retry_ms else None


class RecentIds:
    """Event ids already handed to the core by this process (a replayed sync must not hand them twice)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: dict[str, None] = {}

    def first(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            del self._ids[next(iter(self._ids))]
        return True


class MatrixTransport:
    """Matrix as the core sees it: rooms are chats, a room with more than two joined members is a group."""

    platform = "matrix"
    # Synapse's shape (a burst, then a steady rate). Its default rc_message is far lower (0.2/s): the outbox
    # learns the real one from the first refusals; lifting it for the bot is the homeserver's business.
    limits = Limits(global_per_s=10, burst=10)
    max_file_bytes = 10 * 1024 * 1024  # photos, screenshots, PDFs; a larger file is announced, not fetched

    def set_commands(self, commands: Commands, *, lasting_prompts: Set[str] = frozenset()) -> None:
        """Matrix has no command menu: !aide lists the commands."""

    def __init__(self, config: MatrixConfig, *, timeline_limit: int = 200, poll_ms: int = 30_000) -> None:
        self.config = config
        self.files = SessionFiles(config.data_dir)
        self.timeline_limit, self.poll_ms = timeline_limit, poll_ms
        self.client: AsyncClient | None = None
        self.direct = DirectRooms(config.data_dir / "direct.json")
        self.sender = Sender(self.direct)
        self.allowed: tuple[str, ...] = config.allowed_servers
        self.ready = asyncio.Event()  # set once a first sync succeeded: rooms are known, sends may go
        self._sink: EventSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._since = ""
        self._full_state = True
        self._stopping = False
        self._idle = False  # waiting on the network or a backoff: safe to cancel
        self._last_sync = 0.0
        self._seen = RecentIds()
        self._undecrypted = Undecrypted()
        self._cross_signed, self._cross_sign_after = False, 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> MatrixTransport:
        return cls(MatrixConfig.from_settings(settings))

    async def start(self, sink: EventSink) -> None:
        """Returns at once: login and syncing go on in a task that retries until the homeserver answers."""
        self._sink, self._stopping = sink, False
        self.files.prepare()
        self._task = asyncio.create_task(self._run(), name="matrix-sync")

    async def stop(self) -> None:
        """Let the events being handled finish (a few seconds at most), then close the connection."""
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            if self._idle:
                task.cancel()
            done, _ = await asyncio.wait({task}, timeout=10)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ready.clear()
        self.sender.client = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    def healthy(self) -> bool:
        alive = self._task is not None and not self._task.done()
        return alive and time.monotonic() - self._last_sync < self.poll_ms / 1000 + 60

    async def send(self, delivery: Delivery) -> str:
        if self._stopping:
            raise TransportError("matrix: stopped", retry_after=5)
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), 5)
            if not self.ready.is_set():
                raise TransportError("matrix: not connected yet", retry_after=5)
        return await self.sender.send(delivery)

    # the sync loop ---------------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                if self.client is None:
                    await self._connect()
                await self._sync_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                await self._recover(error, failures)

    async def _recover(self, error: Exception, failures: int) -> None:
        """Log, forget a revoked login, and wait 1 s, 2 s, 4 s… (or what the homeserver asked)."""
        retry_after = getattr(error, "retry_after", None)
        wait = max(min(2.0 ** (failures - 1), MAX_BACKOFF), retry_after or 0.0)
        if isinstance(error, MatrixLoginError):
            log.error("matrix: %s; retrying in %.0f s", error, wait)
        elif isinstance(error, SyncFailed | MatrixUnavailable | ClientError | TimeoutError | OSError):
            log.warning("matrix: sync failed (%s); retrying in %.1f s", error or type(error).__name__, wait)
        else:
            log.exception("matrix: unexpected error in the sync loop; retrying in %.1f s", wait)
        if isinstance(error, SyncFailed) and error.code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            await self._disconnect()
        await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        self._idle = True
        try:
            await asyncio.sleep(seconds)
        finally:
            self._idle = False

    async def _connect(self) -> None:
        client = new_client(self.config, self.files)
        try:
            self._idle = True
            await log_in(client, self.config, self.files)
        except BaseException:
            await client.close()
            raise
        finally:
            self._idle = False
        self.client = self.sender.client = client
        self.allowed = self.config.allowed_servers or (server_of(client.user_id),)
        self._since, self._full_state = self.files.sync_token(client.user_id), True
        self._cross_signed, self._cross_sign_after = False, 0.0

    async def _disconnect(self) -> None:
        self.ready.clear()
        client, self.client, self.sender.client = self.client, None, None
        if client is not None:
            await client.close()

    async def _sync_once(self) -> None:
        """One sync; then keys, invitations and messages; only then is the sync token saved (none missed)."""
        client = self.client
        assert client is not None
        client.next_batch = self._since or None  # a replayed sync is processed again by nio (decryption)
        self._idle = True
        try:
            response = await client.sync(timeout=0 if self._full_state else self.poll_ms, sync_filter=self._filter(),
                                         since=self._since or None, full_state=self._full_state or None)
        finally:
            self._idle = False
        if not isinstance(response, SyncResponse):
            raise SyncFailed(response)
        self._last_sync = time.monotonic()
        self.ready.set()  # rooms are known: replies may go out (the ones to this very sync included)
        await self._upkeep(client)
        await self._cross_sign(client)
        self.direct.learn(response, client.user_id, client.rooms)
        await self._answer_invitations(client, response)
        if self._since:  # at the very first start the backlog is not ours to answer
            await self._dispatch(client, response)
        await leave_empty_rooms(client, response, self.direct)
        self._since, self._full_state = response.next_batch, False
        # In a thread: its fsync would hold every answer up, and a drain brings a sync per message sent.
        await asyncio.to_thread(self.files.save_sync_token, client.user_id, response.next_batch)

    async def _cross_sign(self, client: AsyncClient) -> None:
        """Once per connection (after the device keys are up): the bot's device cross-signed, so that clients
        excluding insecure devices (Element, Tchap) still send it room keys. Retried every 10 minutes if refused."""
        if self._cross_signed or client.should_upload_keys or time.monotonic() < self._cross_sign_after:
            return
        account = Account(client.homeserver, client.user_id, client.device_id or "", client.access_token,
                          self.config.password)
        try:
            keys = CrossSigningKeys(self.config.data_dir / "cross_signing.json", client.user_id)
            assert client.client_session is not None
            await ensure_cross_signed(client.client_session, account, keys)
            self._cross_signed = True
        except CrossSigningError as error:
            log.warning("matrix: cross-signing not set up (%s); retrying in 10 minutes", error)
            self._cross_sign_after = time.monotonic() + 600

    def _filter(self) -> dict[str, object]:
        """Enough timeline to miss nothing (Synapse's default is 10 events); no presence, typing nor receipts."""
        return {"presence": {"types": []}, "account_data": {"types": []},
                "room": {"timeline": {"limit": self.timeline_limit}, "ephemeral": {"types": []},
                         "account_data": {"types": []}}}

    @staticmethod
    async def _upkeep(client: AsyncClient) -> None:
        """What sync_forever does between syncs: keys uploaded, queried, claimed; to-device messages sent."""
        with contextlib.suppress(LocalProtocolError):  # a concurrent send may have done it already
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())

    async def _answer_invitations(self, client: AsyncClient, response: SyncResponse) -> None:
        """Join when the inviter's homeserver is allowed; otherwise decline (leaving rejects an invitation).

        A few at once: a network adding the bot to its rooms sends dozens of invitations in one go."""
        slots = asyncio.Semaphore(8)

        async def answer(room_id: str, info: InviteInfo) -> None:
            inviter = next((e.sender for e in info.invite_state if isinstance(e, InviteMemberEvent)
                            and e.state_key == client.user_id and e.membership == "invite"), "")
            async with slots:
                if inviter and server_allowed(inviter, self.allowed):
                    joined = await client.join(room_id)
                    log.info("matrix: joined a room on invitation (%s)",
                             "ok" if isinstance(joined, JoinResponse) else joined)
                else:
                    await client.room_leave(room_id)
                    log.info("matrix: declined an invitation from a user of %s", server_of(inviter) or "?")

        await asyncio.gather(*(answer(room_id, info) for room_id, info in response.rooms.invite.items()))

    async def _dispatch(self, client: AsyncClient, response: SyncResponse) -> None:
        """Rooms in parallel, each room's events in order; then what became decryptable meanwhile."""
        batches: list[tuple[MatrixRoom, Sequence[NioEvent]]] = []
        for room_id, info in response.rooms.join.items():
            room = client.rooms.get(room_id)
            if room is None:
                continue
            events = after_own_arrival(info.timeline.events, client.user_id)
            if info.timeline.limited and events is info.timeline.events and info.timeline.prev_batch:
                events = [*await self._missed(client, room_id, info.timeline.prev_batch), *events]
            batches.append((room, events))
        await asyncio.gather(*(self._hear(client, room, events) for room, events in batches))
        for room, events in await self._undecrypted.retry(client, self.sender):
            await self._hear(client, room, events)

    async def _missed(self, client: AsyncClient, room_id: str, start: str) -> list[NioEvent]:
        """Events between our last sync and the start of a truncated timeline, oldest first."""
        events: list[NioEvent] = []
        while start and len(events) < MAX_MISSED:
            page = await client.room_messages(room_id, start=start, end=self._since,
                                              direction=MessageDirection.back, limit=100)
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            events.extend(page.chunk)
            start = page.end if page.end != start else ""
        log.info("matrix: fetched %d events missed while away", len(events))
        return events[::-1]

    async def _hear(self, client: AsyncClient, room: MatrixRoom, events: Sequence[NioEvent]) -> None:
        assert self._sink is not None
        for event in events:
            if isinstance(event, MegolmEvent):
                self._undecrypted.add(room, event)
                continue
            sender = getattr(event, "sender", "")
            hearing = Hearing(client.user_id, self.direct.private(room, sender), self.sender.sent_ids.__contains__)
            core_event = to_event(room, event, client.user_id, hearing)
            if core_event is None or not self._seen.first(event.event_id):
                continue
            if isinstance(core_event, FileReceived):
                core_event = await fetch(client, core_event, event, self.max_file_bytes)
            await self._sink(core_event)
