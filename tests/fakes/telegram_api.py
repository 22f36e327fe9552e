"""A fake Telegram Bot API on 127.0.0.1 for tests and benchmarks, spoken to by PTB's real HTTP stack."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from aiohttp import ClientConnectionError, ClientSession, ClientTimeout, web

from tests.fakes.telegram_markup import (
    MAX_CAPTION,
    MarkupError,
    Parsed,
    parse_reply_markup,
    parse_text,
)
from tests.fakes.telegram_users import GROUP_TYPES, FakeGroup, FakeUser, InvalidUpdate, check_update

__all__ = [
    "CallbackAnswer", "Faults", "FakeGroup", "Gate", "FakeTelegram", "FakeUser", "InvalidUpdate", "Limits",
    "SentFile", "SentMessage", "Webhook", "EDIT_METHODS", "SEND_METHODS",
]

T = TypeVar("T")
_LOG = logging.getLogger(__name__)

SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF")
_CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})
_NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                 "exactly the same as a current content and reply markup of the message")
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass(frozen=True)
class SentFile:
    name: str | None
    mime: str | None
    data: bytes = field(repr=False)
    file_id: str = ""


@dataclass
class SentMessage:
    """A message the bot sent; edits update it in place (and leave a snapshot in `fake.edits`)."""

    method: str
    chat_id: int
    message_id: int
    text: str | None = None  # as sent, markup included; None for a file
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    document: SentFile | None = None
    photo: SentFile | None = None
    caption: str | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    disable_notification: bool = False
    received_at: float = 0.0  # time.monotonic() when the fake received the request
    plain_text: str = ""  # text (or caption) as the user sees it: markup removed, entities decoded
    entities: list[dict[str, Any]] = field(default_factory=list, repr=False)
    date: int = 0
    edits: int = 0
    params: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline keyboard buttons, row after row."""
        return [b for row in (self.reply_markup or {}).get("inline_keyboard", []) for b in row]

    @property
    def labels(self) -> list[str]:
        return [b["text"] for b in self.buttons]


@dataclass(frozen=True)
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    received_at: float


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int


class Gate:
    """Holds the calls of `method` in flight until `release()`: `waiting` says how many are held right now,
    `arrived` how many came in all. Used to observe concurrency without timing anything."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.waiting = 0
        self.arrived = 0
        self._open = asyncio.Event()

    def release(self) -> None:
        self._open.set()

    async def pass_through(self) -> None:
        self.waiting += 1
        self.arrived += 1
        try:
            await self._open.wait()
        finally:
            self.waiting -= 1


@dataclass
class Faults:
    """Random failures of the methods in `methods` (sends and edits by default), reproducible from `seed`.

    Each call draws once: 429 (flood error with `retry_after`), 502 (Bad Gateway), drop (the connection
    is closed before anything is processed: nothing recorded), drop_after (the message IS recorded, then
    the connection is closed without an answer: the client cannot know it went through, so a retry makes
    a duplicate; use it to test idempotent sending). A rejected or dropped message is never recorded.
    """

    rate_429: float = 0.0
    retry_after: int = 1
    rate_502: float = 0.0
    rate_drop: float = 0.0
    rate_drop_after: float = 0.0
    seed: int = 0
    methods: AbstractSet[str] = SEND_METHODS | EDIT_METHODS
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.methods = frozenset(self.methods)
        if self.rate_429 + self.rate_502 + self.rate_drop + self.rate_drop_after > 1:
            raise ValueError("fault rates add up to more than 1")
        self._rng = random.Random(self.seed)

    def draw(self, method: str) -> str | None:
        if method not in self.methods:
            return None
        r = self._rng.random()
        for kind, rate in (("429", self.rate_429), ("502", self.rate_502), ("drop", self.rate_drop),
                           ("drop_after", self.rate_drop_after)):
            if r < rate:
                return kind
            r -= rate
        return None


@dataclass(frozen=True)
class Limits:
    """Telegram's flood limits: 30 messages/s overall, about 1/s per chat (short bursts tolerated), 20/min
    per group. `chat_burst` messages may go to one chat within `chat_burst / per_chat_per_s` seconds."""

    global_per_s: int = 30
    per_chat_per_s: float = 1
    per_group_per_min: int = 20
    chat_burst: int = 3


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class _Drop(Exception):
    """Close the connection without an answer."""


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class FakeTelegram:
    """The Bot API on a free port of 127.0.0.1, for PTB's real HTTP stack.

    Start: `url = await fake.start()` (or `async with FakeTelegram() as fake`), then build the bot with
    `.base_url(fake.api_url).base_file_url(fake.file_url)`; `await fake.stop()`.
    Users: `fake.user(42).say("/start")`, `.press(sent_message, "Oui")`, `.share_location(lat, lon)`,
    `.send_document(...)`; groups: `fake.group(-100, "Titre").say(user, text)`. Raw updates:
    `fake.enqueue(update)` (checked first: InvalidUpdate). With a webhook set (setWebhook) updates are POSTed
    to it, and `fake.push_webhook(update)` posts one by hand.
    What the bot did: `sent` (new messages, updated in place by edits), `edits` (snapshots), `sent_to(chat)`,
    `last_sent(chat)`, `callback_answers`, `unanswered_callbacks()`, `actions`, `commands` (by `scope_key`),
    `webhook`, `counts` (calls per method; "429", "502", "drop", "drop_after", "flood_429",
    "privacy_filtered", "unknown_method", "webhook_push"), `errors` (bugs of the fake: should stay empty).
    Waiting: `await fake.wait_sent(chat, count)`, `await fake.wait_for(lambda: ...)` (woken by each request).
    Failures: `fake.fail_next("429" | "502" | "drop" | "drop_after")`, `fake.faults = Faults(...)`,
    `fake.limits = Limits()` (flood limits), `fake.blocked.add(chat)` (403).
    Like Telegram, it refuses bad markup (parse_mode), long texts, callback data over 64 bytes, an edit
    that changes nothing, unknown callback query ids; editing without reply_markup removes the keyboard.
    """

    _running: ClassVar[dict[str, FakeTelegram]] = {}

    def __init__(
        self,
        *,
        bot_username: str = "relais_test_bot",
        bot_id: int = 7_000_001,
        bot_name: str = "Relais",
        token: str | None = None,
        strict_chats: bool = False,
        privacy_mode: bool = True,
    ) -> None:
        self.bot_user: dict[str, Any] = {
            "id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username,
            "can_join_groups": True, "can_read_all_group_messages": not privacy_mode,
            "supports_inline_queries": False,
        }
        # Telegram's default for bots: in groups, only commands, mentions and replies to the bot reach it.
        self.privacy_mode = privacy_mode
        self.token = token  # when set, any other token gets 401 Unauthorized (PTB: InvalidToken)
        self.strict_chats = strict_chats  # when set, sending to a chat no user spoke in is "chat not found"
        self.url = ""
        self._changed = asyncio.Event()
        # Ids only grow, even across reset(): a bot still polling with an offset must see new updates.
        self._next_update_id = 1
        self._poll_generation = 0
        self._callback_seq = 0
        self._last_message_id: dict[int, int] = {}
        self._reset_state()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._handlers: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in {
                "getMe": self._get_me, "getUpdates": self._get_updates, "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message, "sendDocument": self._send_document,
                "sendPhoto": self._send_photo, "editMessageText": self._edit_text,
                "editMessageReplyMarkup": self._edit_markup, "answerCallbackQuery": self._answer_callback,
                "setMyCommands": self._set_commands, "getMyCommands": self._get_commands,
                "deleteMyCommands": self._delete_commands, "sendChatAction": self._chat_action,
                "getFile": self._get_file, "close": self._true, "logOut": self._true,
            }.items()
        }

    def reset(self) -> None:
        """Forget messages, updates, chats, faults, limits, webhook and counts; keep serving."""
        self._reset_state()
        self._notify()

    def _reset_state(self) -> None:
        self.sent: list[SentMessage] = []
        self.edits: list[SentMessage] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.actions: list[tuple[int, str]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: Webhook | None = None
        self.webhook_statuses: list[int] = []
        # Load balancer in front of several processes (balance()): their base URLs, and which one got each update.
        self.backends: list[str] = []
        self.delivered_to: dict[int, int] = {}  # update_id -> index in backends
        self._next_backend = 0
        self.faults: Faults | None = None
        self._limits: Limits | None = None
        self.counts: Counter[str] = Counter()
        self.blocked: set[int] = set()  # chats whose user blocked the bot: 403
        self.kicked: set[int] = set()  # groups the bot was removed from: 403
        self.migrated: dict[int, int] = {}  # group id -> supergroup id (sends to the old id: 400 + migrate_to)
        self.gates: dict[str, Gate] = {}
        self.errors: list[str] = []  # internal errors of the fake itself (should stay empty)
        self.enqueued_at: dict[int, float] = {}  # update_id -> time.monotonic()
        self._updates: list[dict[str, Any]] = []
        self._allowed: list[str] | None = None
        self._chats: dict[int, dict[str, Any]] = {}
        self._user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._index: dict[tuple[int, int], SentMessage] = {}
        self._files: dict[str, SentFile] = {}
        self._callbacks: dict[str, bool] = {}  # query id -> answered
        self._script: list[list[Any]] = []  # [kind, remaining, method or None, retry_after]
        self._flood: dict[object, deque[float]] = {}

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # handler_cancellation: an abandoned long poll must not hold the shutdown.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._closing = False
        FakeTelegram._running[self.url] = self
        return self.url

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # pending long polls answer at once
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        FakeTelegram._running.pop(self.url, None)

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    def at(cls, url: str) -> FakeTelegram:
        """The running fake serving `url` (in this process)."""
        return cls._running[url.rstrip("/")]

    @property
    def limits(self) -> Limits | None:
        """Flood limits, off (None) by default; setting them starts the counting afresh."""
        return self._limits

    @limits.setter
    def limits(self, limits: Limits | None) -> None:
        self._limits = limits
        self._flood.clear()

    @property
    def api_url(self) -> str:
        return self.url + "/bot"

    @property
    def file_url(self) -> str:
        return self.url + "/file/bot"

    # -- users, updates -------------------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Camille",
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        **extra: Any,
    ) -> FakeUser:
        """A user in their private chat (the default), or in the group `chat_id`."""
        if chat_type == "private":
            chat = self._register_chat({"id": user_id if chat_id is None else chat_id, "type": "private",
                                        "first_name": first_name})
        else:
            group_id = chat_id if chat_id is not None else -user_id
            chat = self.group(group_id, chat_title or "Groupe", chat_type).chat
        return FakeUser(self, user_id, first_name, chat, **extra)

    def group(self, chat_id: int, title: str, chat_type: str = "group") -> FakeGroup:
        if chat_id >= 0 or chat_type not in GROUP_TYPES:
            raise ValueError(f"a group has a negative id and a type in {GROUP_TYPES}")
        return FakeGroup(self, self._register_chat({"id": chat_id, "type": chat_type, "title": title}))

    async def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Validate and queue an update for getUpdates, or for a POST to the webhook when one is set."""
        update = {"update_id": self._next_update_id, **update}
        check_update(update)
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self.enqueued_at[update["update_id"]] = time.monotonic()
        self._updates.append(update)
        self._notify()
        if self.webhook is not None:
            self._start_webhook_delivery()
        return update

    def balance(self, backends: list[str]) -> None:
        """Act as the load balancer in front of several bot processes: the webhook's URL is the public one, and
        each update goes (same path, same secret header) to the next of `backends` (base URLs such as
        http://127.0.0.1:8443) in turn; one refusing the connection (a process killed) is skipped."""
        self.backends = list(backends)

    async def push_webhook(self, update: dict[str, Any]) -> int:
        """POST `update` to the registered webhook with its secret header; returns the HTTP status."""
        if self.webhook is None:
            raise RuntimeError("no webhook is set")
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        check_update(update)
        secret = self.webhook.secret_token
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=10))
        if self.backends:
            status = await self._push_balanced(update, headers)
        else:
            async with self._session.post(self.webhook.url, json=update, headers=headers) as response:
                await response.read()
                status = response.status
        self.counts["webhook_push"] += 1
        self.webhook_statuses.append(status)
        return status

    async def _push_balanced(self, update: dict[str, Any], headers: dict[str, str]) -> int:
        assert self.webhook is not None and self._session is not None
        path = urlsplit(self.webhook.url).path
        for _ in range(len(self.backends)):
            index = self._next_backend % len(self.backends)
            self._next_backend += 1
            try:
                async with self._session.post(self.backends[index] + path, json=update, headers=headers) as response:
                    await response.read()
            except ClientConnectionError:
                continue  # that process is gone: the next one takes the update
            self.delivered_to[update["update_id"]] = index
            return response.status
        raise ClientConnectionError("no backend of the load balancer answers")


    def _start_webhook_delivery(self) -> None:
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.get_running_loop().create_task(self._deliver_webhook())

    async def _deliver_webhook(self) -> None:
        """Telegram's side of webhook mode: POST the queued updates, up to the webhook's max_connections at once
        and one chat's updates one after the other, in order; retrying while the bot's server does not answer (PTB
        sets its webhook before listening); a non-2xx is recorded, not retried."""
        give_up = time.monotonic() + 10
        running: dict[asyncio.Task[bool], Any] = {}  # each POST under way -> its chat
        while (self._updates or running) and self.webhook is not None and not self._closing:
            busy = set(running.values())
            for update in list(self._updates):
                if len(running) >= max(1, self.webhook.max_connections):
                    break
                chat = _chat_of(update)
                if chat not in busy:
                    self._updates.remove(update)
                    busy.add(chat)
                    running[asyncio.get_running_loop().create_task(self._push_queued(update))] = chat
            done, _ = await asyncio.wait(running, timeout=0.02, return_when=asyncio.FIRST_COMPLETED)
            failed = [task for task in done if not task.result()]
            for task in done:
                running.pop(task)
            if not failed:
                give_up = time.monotonic() + 10
            elif time.monotonic() > give_up:  # kept queued: the next update or setWebhook tries again
                self.counts["webhook_unreachable"] += 1
                _LOG.warning("fake Telegram: webhook %s unreachable", self.webhook.url)
                await asyncio.gather(*running, return_exceptions=True)
                return
            else:
                await asyncio.sleep(0.01)

    async def _push_queued(self, update: dict[str, Any]) -> bool:
        """POST one queued update; when the bot's server does not answer, put it back first in line (False)."""
        try:
            await self.push_webhook(update)
        except (ClientConnectionError, TimeoutError):
            self._updates.insert(0, update)
            return False
        return True

    def next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def new_callback_id(self) -> str:
        self._callback_seq += 1
        query_id = str(4_200_000_000_000_000 + self._callback_seq)
        self._callbacks[query_id] = False
        return query_id

    def remember(self, message: dict[str, Any]) -> None:
        """Keep a user's message so the bot can reply to it."""
        self._register_chat(message["chat"])
        self._user_messages[(message["chat"]["id"], message["message_id"])] = message

    def store_file(self, name: str | None, mime: str | None, data: bytes) -> dict[str, Any]:
        file = SentFile(name, mime, data, f"doc-{len(self._files) + 1}")
        self._files[file.file_id] = file
        return _document_object(file)

    def store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """A photo as Telegram delivers it: its sizes, smallest first (here one)."""
        file = SentFile("photo.jpg", "image/jpeg", data, f"photo-{len(self._files) + 1}")
        self._files[file.file_id] = file
        return [_photo_size(file)]

    def store_voice(self, data: bytes, duration: int = 3) -> dict[str, Any]:
        file = SentFile(None, "audio/ogg", data, f"voice-{len(self._files) + 1}")
        self._files[file.file_id] = file
        return {"file_id": file.file_id, "file_unique_id": "u" + file.file_id, "duration": duration,
                "mime_type": "audio/ogg", "file_size": len(data)}

    def message_payload(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message of the chat as Telegram shows it (the bot's messages in their current, edited, state)."""
        sent = self._index.get((chat_id, message_id))
        return self._payload(sent) if sent else self._user_messages.get((chat_id, message_id))

    # -- what was sent --------------------------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._by_chat.get(chat_id, ()))

    def sent_count(self, chat_id: int) -> int:
        return len(self._by_chat.get(chat_id, ()))

    def last_sent(self, chat_id: int) -> SentMessage | None:
        messages = self._by_chat.get(chat_id)
        return messages[-1] if messages else None

    def unanswered_callbacks(self) -> list[str]:
        return [query_id for query_id, answered in self._callbacks.items() if not answered]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10) -> T:
        """Wait until `predicate()` is truthy (checked again after each request served); return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; last sent: {self.sent[-5:]}")
            await self._wait_change(remaining)
        return result

    async def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 10) -> list[SentMessage]:
        """Wait until at least `count` messages were sent to `chat_id`; return all of them."""
        await self.wait_for(lambda: self.sent_count(chat_id) >= count, timeout)
        return self.sent_to(chat_id)

    def fail_next(self, kind: str = "429", count: int = 1, *, method: str | None = None,
                  retry_after: int = 1) -> None:
        """Make the next `count` calls of `method` (any send or edit by default) fail with `kind`:
        "429", "502", "drop" or "drop_after" (see Faults). Applied before `faults`."""
        if kind not in ("429", "502", "drop", "drop_after"):
            raise ValueError(kind)
        self._script.append([kind, count, method, retry_after])

    def hold(self, method: str) -> Gate:
        """Hold every call of `method` in flight until the returned gate is released."""
        gate = self.gates[method] = Gate(method)
        return gate

    def migrate(self, group_id: int, supergroup_id: int, title: str = "Groupe") -> FakeGroup:
        """Upgrade a group to a supergroup, as Telegram does: a new chat id; sending to the old one fails with
        400 "group chat was upgraded to a supergroup chat" and parameters.migrate_to_chat_id."""
        self.migrated[group_id] = supergroup_id
        return self.group(supergroup_id, title, "supergroup")

    # -- HTTP -----------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        found = self._handlers.get(request.match_info["method"].lower())
        if found is None:
            self.counts["unknown_method"] += 1
            return _error(404, "Not Found")
        method, handler = found
        self.counts[method] += 1
        try:
            params = await _read_params(request)
            fault, retry_after = self._fault(method)
            if fault == "429":
                raise _flood_error(retry_after)
            if fault == "502":
                raise ApiError(502, "Bad Gateway")
            if fault == "drop":
                raise _Drop
            if method in SEND_METHODS and self.limits is not None:
                self._check_flood(_int(params.get("chat_id"), 0))
            gate = self.gates.get(method)
            if gate is not None:
                self._notify()
                await gate.pass_through()
            result = await handler(params)
            if fault == "drop_after":
                raise _Drop
            return web.json_response({"ok": True, "result": result})
        except ApiError as exc:
            return _error(exc.code, exc.description, exc.parameters)
        except _Drop:
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError from None  # nothing is written back: the client sees a reset
        except Exception as exc:  # a bug of the fake: keep it visible to the test
            _LOG.exception("fake Telegram failed on %s", method)
            self.errors.append(f"{method}: {exc!r}")
            return _error(500, f"Internal Server Error: {exc!r}")
        finally:
            self._notify()

    async def _download(self, request: web.Request) -> web.StreamResponse:
        file = self._files.get(request.match_info["path"].rpartition("/")[2])
        if file is None:
            return _error(404, "Not Found")
        return web.Response(body=file.data, content_type=file.mime or "application/octet-stream")

    def _fault(self, method: str) -> tuple[str | None, int]:
        faultable = SEND_METHODS | EDIT_METHODS
        for entry in self._script:
            kind, remaining, only, retry_after = entry
            if remaining > 0 and (method == only or (only is None and method in faultable)):
                entry[1] -= 1
                if entry[1] == 0:
                    self._script.remove(entry)
                self.counts[kind] += 1
                return kind, retry_after
        kind = self.faults.draw(method) if self.faults is not None else None
        if kind is not None:
            self.counts[kind] += 1
        return kind, self.faults.retry_after if self.faults is not None else 1

    def _check_flood(self, chat_id: int) -> None:
        limits, now = self.limits, time.monotonic()
        assert limits is not None
        windows: list[tuple[object, int, float]] = [
            ("global", limits.global_per_s, 1.0),
            (("chat", chat_id), limits.chat_burst, limits.chat_burst / limits.per_chat_per_s),
        ]
        if chat_id < 0:
            windows.append((("group", chat_id), limits.per_group_per_min, 60.0))
        wait = 0.0
        for key, most, span in windows:
            times = self._flood.setdefault(key, deque())
            while times and times[0] <= now - span:
                times.popleft()
            if len(times) >= most:
                wait = max(wait, times[len(times) - most] + span - now)
        if wait > 0:
            self.counts["flood_429"] += 1
            retry_after = max(1, math.ceil(wait))
            raise _flood_error(retry_after)
        for key, _, _ in windows:
            self._flood[key].append(now)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # -- methods --------------------------------------------------------------------------------------------

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll still waiting gets its 409, as on Telegram
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        if "allowed_updates" in params and (allowed := _json(params["allowed_updates"])) is not None:
            self._allowed = list(allowed)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._updates = [u for u in self._updates if self._is_allowed(u)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while not self._updates and not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._wait_change(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            self._updates = [u for u in self._updates if self._is_allowed(u)]
        return self._updates[:limit]

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        return kind in self._allowed if self._allowed else kind not in _NOT_DEFAULT_UPDATES

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token") or None
        if secret is not None and not (1 <= len(secret) <= 256 and secret.replace("_", "").replace("-", "")
                                       .isalnum() and secret.isascii()):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        allowed = _json(params.get("allowed_updates"))
        if _bool(params.get("drop_pending_updates")):
            self._updates.clear()
        self.webhook = Webhook(url, secret, allowed, _int(params.get("max_connections"), 40)) if url else None
        if self.webhook is not None and self._updates:
            self._start_webhook_delivery()  # Telegram pushes what was waiting
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if _bool(params.get("drop_pending_updates")):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.webhook.url if self.webhook else "",
                                "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
        return info

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(params)
        text = params.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: message text is empty")
        parsed = _parse(text, params.get("parse_mode"))
        sent = self._record("sendMessage", chat_id, params, text=text, parsed=parsed)
        return self._payload(sent)

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file("sendDocument", "document", params)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._send_file("sendPhoto", "photo", params)

    async def _send_file(self, method: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._target(params)
        value = params.get(kind)
        if isinstance(value, SentFile):
            if not value.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            prefix = "doc" if kind == "document" else "photo"
            file = dataclasses.replace(value, file_id=f"{prefix}-{len(self._files) + 1}")
        elif isinstance(value, str) and value in self._files:
            file = self._files[value]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            file = SentFile(value.rpartition("/")[2] or None, None, b"", f"url-{len(self._files) + 1}")
        else:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request" if value is None
                           else "Bad Request: wrong file identifier/HTTP URL specified")
        if kind == "photo" and file.data and not file.data.startswith(_IMAGE_MAGIC):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        self._files[file.file_id] = file
        caption = params.get("caption")
        parsed = _parse(caption, params.get("parse_mode"), caption=True) if caption else Parsed()
        files: dict[str, Any] = {kind: file}
        sent = self._record(method, chat_id, params, parsed=parsed, caption=caption, **files)
        return self._payload(sent)

    async def _edit_text(self, params: dict[str, Any]) -> dict[str, Any]:
        sent = self._editable(params)
        if sent.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: message text is empty")
        parsed = _parse(text, params.get("parse_mode"))
        markup = _markup(params)  # no reply_markup: Telegram removes the inline keyboard
        if (parsed.text, parsed.entities, markup) == (sent.plain_text, sent.entities, sent.reply_markup):
            raise ApiError(400, _NOT_MODIFIED)
        sent.text, sent.parse_mode, sent.plain_text, sent.entities = text, params.get("parse_mode"), \
            parsed.text, parsed.entities
        return self._edited("editMessageText", sent, markup, params)

    async def _edit_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        sent = self._editable(params)
        markup = _markup(params)
        if markup == sent.reply_markup:
            raise ApiError(400, _NOT_MODIFIED)
        return self._edited("editMessageReplyMarkup", sent, markup, params)

    def _editable(self, params: dict[str, Any]) -> SentMessage:
        if "inline_message_id" in params:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")  # inline messages are not simulated
        key = (self._target(params), _int(params.get("message_id"), 0))
        if key in self._user_messages:
            raise ApiError(400, "Bad Request: message can't be edited")
        if key not in self._index:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self._index[key]

    def _edited(self, method: str, sent: SentMessage, markup: dict[str, Any] | None,
                params: dict[str, Any]) -> dict[str, Any]:
        sent.reply_markup = markup
        sent.edits += 1
        snapshot = dataclasses.replace(sent, method=method, received_at=time.monotonic(), params=params)
        self.edits.append(snapshot)
        payload = self._payload(sent)
        payload["edit_date"] = int(time.time())
        return payload

    async def _answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callbacks.get(query_id, True):  # unknown, or answered already
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        text = params.get("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        show_alert = _bool(params.get("show_alert"))
        self.callback_answers.append(
            CallbackAnswer(query_id, text, show_alert, params.get("url"), time.monotonic())
        )
        return True

    async def _set_commands(self, params: dict[str, Any]) -> bool:
        commands = _json(params.get("commands"))
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be an array of at most 100 BotCommand")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not (1 <= len(name) <= 32 and name.isascii() and name.replace("_", "").isalnum()
                    and name == name.lower()):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self.commands[scope_key(_json(params.get("scope")), params.get("language_code") or "")] = commands
        return True

    async def _get_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(scope_key(_json(params.get("scope")), params.get("language_code") or ""), [])

    async def _delete_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(scope_key(_json(params.get("scope")), params.get("language_code") or ""), None)
        return True

    async def _chat_action(self, params: dict[str, Any]) -> bool:
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        self.actions.append((self._target(params), action))
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self._files.get(str(params.get("file_id")))
        if file is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file.file_id, "file_unique_id": "u" + file.file_id, "file_size": len(file.data),
                "file_path": f"files/{file.file_id}"}

    # -- helpers --------------------------------------------------------------------------------------------

    def _register_chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        return self._chats.setdefault(chat["id"], chat)

    def _target(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        if chat_id in self.migrated:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self.migrated[chat_id]})
        if chat_id not in self._chats:
            if self.strict_chats or chat_id == 0:
                raise ApiError(400, "Bad Request: chat not found")
            self._register_chat({"id": chat_id, "type": "private", "first_name": "Inconnu"} if chat_id > 0
                                else {"id": chat_id, "type": "group", "title": "Groupe"})
        return chat_id

    def _record(self, method: str, chat_id: int, params: dict[str, Any], *, parsed: Parsed,
                text: str | None = None, **files: Any) -> SentMessage:
        reply_to = _reply_to(params)
        if reply_to is not None and self.message_payload(chat_id, reply_to[0]) is None and not reply_to[1]:
            raise ApiError(400, "Bad Request: message to be replied not found")
        sent = SentMessage(
            method=method, chat_id=chat_id, message_id=self.next_message_id(chat_id), text=text,
            parse_mode=params.get("parse_mode"), reply_markup=_markup(params),
            reply_to_message_id=reply_to[0] if reply_to else None, received_at=time.monotonic(),
            message_thread_id=_int(params.get("message_thread_id"), 0) or None,
            disable_notification=_bool(params.get("disable_notification")),
            plain_text=parsed.text, entities=parsed.entities, date=int(time.time()),
            params={k: v for k, v in params.items() if not isinstance(v, SentFile)}, **files,
        )
        self.sent.append(sent)
        self._by_chat.setdefault(chat_id, []).append(sent)
        self._index[(chat_id, sent.message_id)] = sent
        return sent

    def _payload(self, sent: SentMessage) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": sent.message_id, "date": sent.date, "from": self.bot_user,
                                   "chat": self._chats[sent.chat_id]}
        text_key = "text" if sent.text is not None else "caption"
        if sent.text is not None or sent.caption:
            message[text_key] = sent.plain_text
            if sent.entities:
                message["entities" if text_key == "text" else "caption_entities"] = sent.entities
        if sent.document is not None:
            message["document"] = _document_object(sent.document)
        if sent.photo is not None:
            message["photo"] = [_photo_size(sent.photo)]
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if sent.message_thread_id is not None:
            message["message_thread_id"], message["is_topic_message"] = sent.message_thread_id, True
        if sent.reply_to_message_id is not None:
            replied = self.message_payload(sent.chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        return message


def scope_key(scope: dict[str, Any] | None, language_code: str = "") -> str:
    """Key of `fake.commands`: "default", "all_private_chats", "chat:-100", "chat_member:-100:42"…,
    with "/fr" appended for a language_code."""
    scope = scope or {"type": "default"}
    key = ":".join([scope["type"], *(str(scope[k]) for k in ("chat_id", "user_id") if k in scope)])
    return f"{key}/{language_code}" if language_code else key


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        params.update(await request.json())
        return params
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            params[key] = SentFile(value.filename, value.content_type, value.file.read())
        else:
            params[key] = value
    return params


def _chat_of(update: dict[str, Any]) -> Any:
    """The chat an update belongs to (Telegram delivers one chat's updates in order), else the update itself."""
    content = update.get("message") or update.get("callback_query", {}).get("message") or {}
    return content.get("chat", {}).get("id", ("update", update["update_id"]))


def _flood_error(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def _parse(text: str, parse_mode: str | None, caption: bool = False) -> Parsed:
    try:
        if caption:
            return parse_text(text, parse_mode, limit=MAX_CAPTION, what="caption")
        return parse_text(text, parse_mode)
    except MarkupError as exc:
        raise ApiError(400, f"Bad Request: {exc}") from None


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return parse_reply_markup(params.get("reply_markup"))
    except MarkupError as exc:
        raise ApiError(400, f"Bad Request: {exc}") from None


def _reply_to(params: dict[str, Any]) -> tuple[int, bool] | None:
    """(message id, allow_sending_without_reply) from reply_parameters (PTB 22) or reply_to_message_id."""
    if "reply_parameters" in params:
        parameters = _json(params["reply_parameters"]) or {}
        return int(parameters["message_id"]), bool(parameters.get("allow_sending_without_reply"))
    if "reply_to_message_id" in params:
        return _int(params["reply_to_message_id"], 0), _bool(params.get("allow_sending_without_reply"))
    return None


def _document_object(file: SentFile) -> dict[str, Any]:
    document = {"file_id": file.file_id, "file_unique_id": "u" + file.file_id, "file_size": len(file.data)}
    if file.name:
        document["file_name"] = file.name
    if file.mime:
        document["mime_type"] = file.mime
    return document


def _photo_size(file: SentFile) -> dict[str, Any]:
    width = height = 1
    if file.data.startswith(b"\x89PNG") and len(file.data) >= 24:
        width, height = int.from_bytes(file.data[16:20], "big"), int.from_bytes(file.data[20:24], "big")
    return {"file_id": file.file_id, "file_unique_id": "u" + file.file_id, "width": width, "height": height,
            "file_size": len(file.data)}


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: can't parse integer {value!r}") from None


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(400, f"Bad Request: can't parse JSON {value[:50]!r}") from None
