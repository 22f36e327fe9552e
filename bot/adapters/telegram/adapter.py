"""Telegram adapter (python-telegram-bot 22): long polling or webhook in the core's loop; replies rendered natively."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Set
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.adapters.telegram.inbound import (
    AnonymousAdmin,
    IncomingFile,
    anonymous_admin,
    message_event,
    press_event,
    pressed_label,
)
from bot.adapters.telegram.outbound import NO_PREVIEW, Sender, transport_error
from bot.adapters.telegram.render import chosen_html, chosen_notice
from bot.config import Settings
from bot.events import ChoiceMade, Delivery, FileReceived, Reply, TextReceived
from bot.i18n import t
from bot.markup import to_plain
from bot.ratelimit import Limits
from bot.transport import Commands, EventSink, Receipt

log = logging.getLogger(__name__)

OFFICIAL_API = "https://api.telegram.org/bot"
ALLOWED_UPDATES = ("message", "callback_query")
SCOPES = {"private": BotCommandScopeAllPrivateChats, "group": BotCommandScopeAllGroupChats}
# Updates handled at once. Each conversation stays in order (the core's per-chat locks); this only lets
# different people be answered side by side instead of one after the other.
CONCURRENT_UPDATES = 64
# A press is answered (the button stops spinning) when the core has decided — with its notice, « ✓ Présent » — or
# after this many seconds with no text, the rest shown when the core has decided (the confirmation message, the
# « ✓ » below the keyboard). The core decides in well under this time, except in a burst (a reminder to 1,000
# members who all press at once), where a spinner left turning for seconds makes people press again.
ANSWER_WITHIN = 2.0  # a burst is recognised by the presses waiting (BURST_PRESSES): stopped at once then
# Bot API calls in flight at once per process (HTTP connections): sends and edits; answers to presses.
CALLS_AT_ONCE = 16
ANSWERS_AT_ONCE = 32
# More presses than this waiting for the core in this process: a burst (the core decides a few dozen a second).
BURST_PRESSES = 16
# Presses waiting for the core in tasks of their own, per process; beyond, they wait in PTB's queue.
PRESSES_AT_ONCE = 2000
# Polling answered 409 Conflict this recently: another process polls with the same token (PTB retries up to
# every 30 s, so a conflict still going on shows again within this window).
CONFLICT_MEMORY = 90.0
# What an anonymous group admin may ask: nothing personal, what the group sees anyway (its weekly digest).
ANONYMOUS_SAFE = frozenset({"synthese", "synthèse"})
MAX_FILE_BYTES = 10 * 1024 * 1024


def api_urls(api_url: str) -> tuple[str, str]:
    """PTB's base_url and base_file_url for a Bot API server given as http://host:port/bot (or without /bot)."""
    root = api_url.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


class GatedRequest(HTTPXRequest):
    """PTB's HTTP client with a bounded number of calls in flight, answers to presses in a lane of their own.

    httpx's pool walks every connection and every waiting request each time one is handed out: with hundreds of
    calls at once (a burst of presses, each answered and confirmed) that walk is quadratic and a call took seconds,
    or failed after PTB's 1 s pool timeout (a press never answered). Here calls wait their turn in order, and a
    press's answer never waits behind confirmations and other messages."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=CALLS_AT_ONCE + ANSWERS_AT_ONCE, pool_timeout=None)
        self._calls = asyncio.Semaphore(CALLS_AT_ONCE)
        self._answers = asyncio.Semaphore(ANSWERS_AT_ONCE)

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        lane = self._answers if url.endswith("/answerCallbackQuery") else self._calls
        async with lane:
            return await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                            connect_timeout, pool_timeout)


def build_application(token: str, api_url: str = "",
                      concurrent_updates: int = CONCURRENT_UPDATES) -> Application[Any, Any, Any, Any, Any, Any]:
    # No rate limiter and no job queue: the outbox paces and retries sends, the scheduler runs jobs.
    base_url, file_url = api_urls(api_url or OFFICIAL_API)
    return (ApplicationBuilder().token(token).base_url(base_url).base_file_url(file_url).job_queue(None)
            .request(GatedRequest()).concurrent_updates(concurrent_updates).build())


def derived_secret(token: str, configured: str = "") -> str:
    """The secret Telegram sends with each webhook call: the configured one, else one derived from the token,
    the same in every process behind a load balancer (a random one per process would refuse the others' calls)."""
    return configured or hashlib.sha256(f"relais-webhook:{token}".encode()).hexdigest()


async def bot_username(settings: Settings) -> str:
    """The bot's @username (without @), asked of the Bot API (for t.me deep links)."""
    base_url, file_url = api_urls(settings.telegram_api_url or OFFICIAL_API)
    async with Bot(settings.telegram_token, base_url=base_url, base_file_url=file_url) as bot:
        return bot.username


class TelegramTransport:
    """The Telegram platform seen by the core; no feature logic here."""

    platform = "telegram"
    # Telegram allows 30 messages/s overall, about 1/s per chat, 20/min per group, counted over any second (not a
    # burst then a rate, as Synapse): the pace is steady (a burst of one), so the second after a calm or a restart
    # does not carry a burst on top of the rate. The outbox counts a send when it starts, Telegram when it arrives:
    # the pace's margin (5 %) keeps network jitter from costing a 429.
    limits = Limits(global_per_s=30, per_chat_per_s=1, per_group_per_min=19, burst=1)
    max_file_bytes = MAX_FILE_BYTES  # larger files reach the core without their content (the Bot API: 20 MB)

    def __init__(self, token: str, *, api_url: str = "", webhook_url: str = "",
                 webhook_listen: str = "127.0.0.1:8443", webhook_secret: str = "",
                 commands: Commands | None = None, poll_timeout: float = 10,
                 concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        self.application = build_application(token, api_url, concurrent_updates)
        self.webhook_url, self.webhook_listen = webhook_url, webhook_listen
        self.webhook_secret = derived_secret(token, webhook_secret)
        self.commands: Commands = commands or {}
        self.lasting_prompts: frozenset[str] = frozenset()
        self.poll_timeout = poll_timeout
        self.username = ""
        self._bot_id = 0
        self._sink: EventSink | None = None
        self._started = False
        self._conflict_at = -CONFLICT_MEMORY
        self._sender = Sender(self.application.bot)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._presses: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings, *, commands: Commands | None = None) -> TelegramTransport:
        # Updates side by side on every database: the dispatcher serialises SQLite's transactions itself.
        return cls(settings.telegram_token, api_url=settings.telegram_api_url,
                   webhook_url=settings.telegram_webhook_url, webhook_listen=settings.telegram_webhook_listen,
                   webhook_secret=settings.telegram_webhook_secret, commands=commands)

    def set_commands(self, commands: Commands, *, lasting_prompts: Set[str] = frozenset()) -> None:
        """The command menus ("private", "group": [(name, French help)]), published at start; and the prompt
        ids of stateless buttons (the core's actions, e.g. RSVPs), whose keyboards stay after a press."""
        self.commands, self.lasting_prompts = commands, frozenset(lasting_prompts)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        application = self.application
        application.add_handler(TypeHandler(Update, self._on_update))
        await application.initialize()
        self.username, self._bot_id = application.bot.username, application.bot.id
        await self._publish_commands()
        await application.start()
        updater = application.updater
        assert updater is not None
        if self.webhook_url:
            await updater.start_webhook(**self._webhook_options())
        else:
            await updater.start_polling(poll_interval=0, timeout=int(self.poll_timeout), bootstrap_retries=3,
                                        allowed_updates=list(ALLOWED_UPDATES), error_callback=self._poll_failed)
        self._started = True
        log.info("telegram: @%s receiving by %s", self.username, "webhook" if self.webhook_url else "long polling")

    def _webhook_options(self) -> dict[str, Any]:
        host, _, port = self.webhook_listen.rpartition(":")
        return {"listen": host.strip("[]") or "127.0.0.1", "port": int(port),
                "url_path": urlsplit(self.webhook_url).path, "webhook_url": self.webhook_url,
                "secret_token": self.webhook_secret, "bootstrap_retries": 3, "allowed_updates": list(ALLOWED_UPDATES),
                "max_connections": CONCURRENT_UPDATES}

    async def stop(self) -> None:
        if self._presses:  # presses received: let the core decide them (it answers them within seconds)
            await asyncio.wait(set(self._presses), timeout=30)
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await application.shutdown()
        self._started = False

    def healthy(self) -> bool:
        updater = self.application.updater
        running = self._started and updater is not None and updater.running
        return running and time.monotonic() - self._conflict_at > CONFLICT_MEMORY

    def _poll_failed(self, error: TelegramError) -> None:
        """PTB's polling loop reports its errors here (and retries). A 409 means another process polls with
        this token: each gets every other update, so neither works; /healthz shows it until it stops."""
        if isinstance(error, Conflict):
            if time.monotonic() - self._conflict_at > CONFLICT_MEMORY:
                log.error("telegram: another process is receiving updates for this bot (409 Conflict: %s). "
                          "Run one polling process, or use a webhook with several processes.", error)
            self._conflict_at = time.monotonic()
            return
        log.warning("telegram: polling failed, retrying: %s", error)

    async def _publish_commands(self) -> None:
        for kind, scope in SCOPES.items():
            entries = [BotCommand(name, to_plain(help_text)[:256]) for name, help_text in self.commands.get(kind, ())
                       if name.isascii() and name.replace("_", "").isalnum() and name.islower() and len(name) <= 32]
            if not entries:
                continue
            try:
                await self.application.bot.set_my_commands(entries[:100], scope=scope())
            except TelegramError as error:  # a menu is a comfort: the bot works without it
                log.warning("telegram: command menu (%s) not set: %s", kind, error)

    # -- incoming -------------------------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._sink is not None
        if update.callback_query is not None:
            if len(self._presses) < PRESSES_AT_ONCE:
                self._press_aside(update, update.callback_query)
            else:  # that many already waiting: this one holds its PTB slot (updates then queue in PTB)
                await self._on_press(update, update.callback_query)
            return
        anonymous = anonymous_admin(update, self.username)
        if anonymous is not None:
            await self._on_anonymous(anonymous)
            return
        found = message_event(update, self.username, self._bot_id)
        if found is None:
            return
        event, file = found
        if isinstance(event, FileReceived) and file is not None:
            event = await self._fetch(event, file)
        await self._sink(event)

    async def _on_anonymous(self, anonymous: AnonymousAdmin) -> None:
        """An admin posting as the group: what the whole group may see goes to the core (as nobody in
        particular); the rest is explained, since the bot cannot tell who is asking."""
        assert self._sink is not None
        if anonymous.command in ANONYMOUS_SAFE:
            await self._sink(TextReceived(anonymous.address, anonymous.text, anonymous.message_id, addressed=True))
            return
        reply = Reply(t("telegram.anonymous_admin", command=anonymous.command))
        try:
            await self.send(Delivery(anonymous.address, reply, reply_to=anonymous.message_id))
        except Exception as error:  # noqa: BLE001 (a courtesy message: the outbox is not involved)
            log.info("telegram: anonymous admin not answered: %s", error)

    async def _fetch(self, event: FileReceived, file: IncomingFile) -> FileReceived:
        """The file's content when it is small enough (else the core gets its name, type and size only)."""
        if event.size > self.max_file_bytes:
            return event
        try:
            found = await self.application.bot.get_file(file.file_id)
            if (found.file_size or 0) > self.max_file_bytes:
                return replace(event, size=found.file_size or event.size)
            data = bytes(await found.download_as_bytearray())
        except TelegramError as error:
            log.info("telegram: file not fetched: %s", error)
            return event
        return replace(event, data=data, size=len(data)) if len(data) <= self.max_file_bytes else event

    def _press_aside(self, update: Update, query: CallbackQuery) -> None:
        """A press is handled in a task of its own, outside PTB's CONCURRENT_UPDATES slots: its answer clock starts
        when it arrives, not when a thousand presses ahead of it are done (the core still takes them in turn)."""
        task = asyncio.get_running_loop().create_task(self._on_press(update, query))
        self._presses.add(task)
        task.add_done_callback(self._presses.discard)

    async def _on_press(self, update: Update, query: CallbackQuery) -> None:
        """The core decides first; then the press is answered (the button stops spinning, with the core's notice
        when it refused) and, when accepted, the choice shown: « ✓ label » below the message, its keyboard
        removed; a lasting keyboard (RSVP…) stays, the choice shown in the answer's pop-up."""
        assert self._sink is not None
        event, label = press_event(update, query), pressed_label(query)
        if event is None:
            await self._answer(query, None)
            return
        lasting = isinstance(event, ChoiceMade) and event.prompt_id in self.lasting_prompts
        deciding = asyncio.ensure_future(self._sink(event))  # queued for the core in the order presses arrive
        # In a burst (more presses waiting than the core decides in ANSWER_WITHIN), the spinner stops at once.
        within = 0.0 if len(self._presses) > BURST_PRESSES else ANSWER_WITHIN
        done, _ = await asyncio.wait({deciding}, timeout=within)
        if not done:  # slow core: stop the spinner now, show the rest when it has decided
            await self._answer(query, None)
            receipt = await self._receipt(deciding)
            if receipt.accepted and not lasting:
                await self._mark_if_keyboard(query, label)
            return
        receipt = await self._receipt(deciding)
        if not receipt.accepted:
            await self._answer(query, receipt.notice or None)
            return
        await self._answer(query, chosen_notice(label) if lasting and label else None)
        if not lasting:
            await self._mark_if_keyboard(query, label)

    @staticmethod
    async def _receipt(deciding: asyncio.Future[Receipt]) -> Receipt:
        try:
            return await deciding
        except Exception:  # the core promises not to raise; if it does, leave the keyboard as it is
            log.exception("telegram: the core failed on a press")
            return Receipt(accepted=False)

    @staticmethod
    async def _answer(query: CallbackQuery, notice: str | None) -> None:
        try:
            await query.answer(notice[:200] if notice else None)
        except TelegramError as error:
            log.info("telegram: callback query not answered: %s", error)

    async def _mark_if_keyboard(self, query: CallbackQuery, label: str) -> None:
        if isinstance(query.message, Message) and query.message.reply_markup is not None:
            await self._mark_chosen(query.message, label)

    async def _mark_chosen(self, message: Message, label: str, attempt: int = 1) -> None:
        """Edit the keyboard's message: « ✓ label » below it, buttons removed; retried in the background
        (an edit done twice changes nothing: Telegram answers "not modified")."""
        try:
            if message.text and label:
                await message.edit_text(chosen_html(message.text_html, label), parse_mode=ParseMode.HTML,
                                        link_preview_options=NO_PREVIEW)
            else:
                await message.edit_reply_markup(None)
        except BadRequest as error:
            if "not modified" not in str(error):
                log.info("telegram: pressed keyboard not updated: %s", error)
        except TelegramError as error:
            if attempt >= 3:
                log.info("telegram: pressed keyboard not updated: %s", error)
                return
            delay = min(transport_error(error).retry_after or attempt, 5.0)
            task = asyncio.get_running_loop().create_task(self._mark_later(delay, message, label, attempt + 1))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _mark_later(self, delay: float, message: Message, label: str, attempt: int) -> None:
        await asyncio.sleep(delay)
        await self._mark_chosen(message, label, attempt)

    # -- outgoing -------------------------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str:
        """Send every part of the reply; after a failure, a retry of the same reply resumes at the failed part
        (the parts already shown are not sent twice)."""
        return await self._sender.send(delivery)
