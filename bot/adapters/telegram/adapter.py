"""Telegram adapter (python-telegram-bot 22): long polling or webhook in the core's loop; replies rendered natively."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Set
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.adapters.telegram.inbound import message_event, press_event, pressed_label
from bot.adapters.telegram.render import Part, chosen_html, chosen_notice, plan
from bot.config import Settings
from bot.events import ChoiceMade, Delivery, Event, Reply
from bot.markup import to_html, to_plain
from bot.ratelimit import Limits
from bot.transport import Commands, EventSink, TransportError

log = logging.getLogger(__name__)

OFFICIAL_API = "https://api.telegram.org/bot"
ALLOWED_UPDATES = ("message", "callback_query")
SCOPES = {"private": BotCommandScopeAllPrivateChats, "group": BotCommandScopeAllGroupChats}
PROGRESS_TTL = 3600.0  # seconds a partly sent reply remembers its sent parts (outbox retries come sooner)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def api_urls(api_url: str) -> tuple[str, str]:
    """PTB's base_url and base_file_url for a Bot API server given as http://host:port/bot (or without /bot)."""
    root = api_url.rstrip("/").removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def build_application(token: str, api_url: str = "") -> Application[Any, Any, Any, Any, Any, Any]:
    # No rate limiter and no job queue: the outbox paces and retries sends, the scheduler runs jobs.
    base_url, file_url = api_urls(api_url or OFFICIAL_API)
    return ApplicationBuilder().token(token).base_url(base_url).base_file_url(file_url).job_queue(None).build()


async def bot_username(settings: Settings) -> str:
    """The bot's @username (without @), asked of the Bot API (for t.me deep links)."""
    base_url, file_url = api_urls(settings.telegram_api_url or OFFICIAL_API)
    async with Bot(settings.telegram_token, base_url=base_url, base_file_url=file_url) as bot:
        return bot.username


def transport_error(error: TelegramError) -> TransportError:
    """What the outbox should do about a failed call: wait, retry with backoff, or give up."""
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return TransportError(f"flood control: {error}", retry_after=seconds)
    if isinstance(error, Forbidden | ChatMigrated | BadRequest):
        # blocked by the user, removed from the group, chat moved or not found: the same call fails again
        return TransportError(f"refused: {error}", permanent=True)
    return TransportError(f"unreachable: {error}")  # network errors, timeouts, 5xx, conflicts


class TelegramTransport:
    """The Telegram platform seen by the core; no feature logic here."""

    platform = "telegram"
    # Telegram allows 30 messages/s overall, about 1/s per chat, 20/min per group. The outbox counts a send when
    # it starts, Telegram when it arrives: one message of slack keeps network jitter from costing a 429.
    limits = Limits(global_per_s=29, per_chat_per_s=1, per_group_per_min=19)
    max_file_bytes = 0  # incoming files are not read yet

    def __init__(self, token: str, *, api_url: str = "", webhook_url: str = "",
                 webhook_listen: str = "127.0.0.1:8443", webhook_secret: str = "",
                 commands: Commands | None = None, poll_timeout: float = 10) -> None:
        self.application = build_application(token, api_url)
        self.webhook_url, self.webhook_listen = webhook_url, webhook_listen
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(32)
        self.commands: Commands = commands or {}
        self.lasting_prompts: frozenset[str] = frozenset()
        self.poll_timeout = poll_timeout
        self.username = ""
        self._bot_id = 0
        self._sink: EventSink | None = None
        self._started = False
        self._progress: dict[tuple[int, Reply], tuple[int, str, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: Settings, *, commands: Commands | None = None) -> TelegramTransport:
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
                                        allowed_updates=list(ALLOWED_UPDATES))
        self._started = True
        log.info("telegram: @%s receiving by %s", self.username, "webhook" if self.webhook_url else "long polling")

    def _webhook_options(self) -> dict[str, Any]:
        host, _, port = self.webhook_listen.rpartition(":")
        return {"listen": host.strip("[]") or "127.0.0.1", "port": int(port),
                "url_path": urlsplit(self.webhook_url).path, "webhook_url": self.webhook_url,
                "secret_token": self.webhook_secret, "bootstrap_retries": 3, "allowed_updates": list(ALLOWED_UPDATES)}

    async def stop(self) -> None:
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
        return self._started and updater is not None and updater.running

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
            event = await self._on_press(update, update.callback_query)
        else:
            event = message_event(update, self.username, self._bot_id)
        if event is not None:
            await self._sink(event)

    async def _on_press(self, update: Update, query: CallbackQuery) -> Event | None:
        """Answer at once (the button stops spinning whatever happens next), then show the choice: below the
        message, its keyboard removed; a lasting keyboard stays, the choice shown in the answer's notice."""
        event, label = press_event(update, query), pressed_label(query)
        lasting = isinstance(event, ChoiceMade) and event.prompt_id in self.lasting_prompts
        try:
            await query.answer(chosen_notice(label) if lasting and label else None)
        except TelegramError as error:
            log.info("telegram: callback query not answered: %s", error)
        if not lasting and isinstance(query.message, Message) and query.message.reply_markup is not None:
            await self._mark_chosen(query.message, label)
        return event

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
        try:
            chat_id = int(delivery.address.chat_id)
        except ValueError:
            raise TransportError(f"not a Telegram chat: {delivery.address.chat_id!r}", permanent=True) from None
        key = (chat_id, delivery.reply)
        done, message_id, _ = self._progress.pop(key, (0, "", 0.0))
        parts = plan(delivery.reply)
        for index in range(done, len(parts)):
            try:
                message_id = str((await self._send_part(chat_id, parts[index])).message_id)
            except TelegramError as error:
                self._remember(key, index, message_id)
                raise transport_error(error) from error
        return message_id

    def _remember(self, key: tuple[int, Reply], done: int, message_id: str) -> None:
        now = time.monotonic()
        for stale in [k for k, (_, _, at) in self._progress.items() if at < now - PROGRESS_TTL]:
            del self._progress[stale]
        if done:
            self._progress[key] = (done, message_id, now)

    async def _send_part(self, chat_id: int, part: Part) -> Message:
        try:
            return await self._post(chat_id, part, to_html(part.source), ParseMode.HTML)
        except BadRequest as error:
            if "entities" not in str(error):
                raise
            log.warning("telegram: HTML refused (%s); sent as plain text", error)
            return await self._post(chat_id, part, to_plain(part.source), None)

    async def _post(self, chat_id: int, part: Part, text: str, parse_mode: str | None) -> Message:
        bot, attachment = self.application.bot, part.attachment
        if attachment is None:
            return await bot.send_message(chat_id, text, parse_mode=parse_mode, reply_markup=part.keyboard,
                                          link_preview_options=NO_PREVIEW)
        caption = text or None
        if part.is_photo:
            with contextlib.suppress(BadRequest):  # an image Telegram cannot process still goes, as a file
                return await bot.send_photo(chat_id, attachment.data, caption=caption, parse_mode=parse_mode,
                                            reply_markup=part.keyboard, filename=attachment.name)
        return await bot.send_document(chat_id, attachment.data, caption=caption, parse_mode=parse_mode,
                                       reply_markup=part.keyboard, filename=attachment.name)
