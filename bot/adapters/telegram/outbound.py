"""Sending a Delivery to Telegram: parts in order (resumed after a failure), keyboards or a selective ForceReply,
forum topics, quiet or ringing messages; Telegram's errors as what the outbox should do."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

from telegram import Bot, ForceReply, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.adapters.telegram.render import Part, plan
from bot.events import Delivery, Reply
from bot.i18n import t
from bot.markup import to_html, to_plain
from bot.transport import TransportError

log = logging.getLogger(__name__)

PROGRESS_TTL = 3600.0  # seconds a partly sent reply remembers its sent parts (outbox retries come sooner)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
GONE = ("blocked", "kicked", "not a member", "deactivated", "chat not found", "bot was removed")


def transport_error(error: TelegramError) -> TransportError:
    """What the outbox should do about a failed call: wait, retry with backoff, follow the chat, or give up."""
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return TransportError(f"flood control: {error}", retry_after=seconds)
    if isinstance(error, ChatMigrated):  # a group upgraded to a supergroup: same people, a new chat id
        return TransportError(f"moved: {error}", moved_to=str(error.new_chat_id))
    if isinstance(error, Forbidden):  # blocked by the person, removed from the group
        return TransportError(f"refused: {error}", permanent=True, gone=True)
    if isinstance(error, BadRequest):
        gone = any(word in str(error).lower() for word in GONE)
        return TransportError(f"refused: {error}", permanent=True, gone=gone)
    return TransportError(f"unreachable: {error}")  # network errors, timeouts, 5xx, conflicts


class Sender:
    """Sends replies; a retry of the same reply to the same chat resumes at the part that failed."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._progress: dict[tuple[int, Reply], tuple[int, str, float]] = {}

    async def send(self, delivery: Delivery) -> str:
        try:
            chat_id = int(delivery.address.chat_id)
        except ValueError:
            raise TransportError(f"not a Telegram chat: {delivery.address.chat_id!r}", permanent=True) from None
        key = (chat_id, delivery.reply)
        done, message_id, _ = self._progress.pop(key, (0, "", 0.0))
        parts = plan(delivery.reply)
        if delivery.reply.expects_answer and delivery.address.is_group and parts and parts[-1].keyboard:
            # A question with buttons that also takes a written answer: a keyboard and a ForceReply cannot share a
            # message, so a short line follows with the ForceReply (privacy mode lets a reply to it through).
            parts.append(Part(t("telegram.or_write_here")))
        for index in range(done, len(parts)):
            options = self._options(delivery, first=index == 0, last=index == len(parts) - 1, part=parts[index])
            try:
                message_id = str((await self._send_part(chat_id, parts[index], options)).message_id)
            except TelegramError as error:
                self._remember(key, index, message_id)
                raise transport_error(error) from error
        return message_id

    @staticmethod
    def _options(delivery: Delivery, *, first: bool, last: bool, part: Part) -> dict[str, Any]:
        """Where in the chat (forum topic, in reply to), whether it rings, and the keyboard or ForceReply."""
        address, reply = delivery.address, delivery.reply
        options: dict[str, Any] = {"reply_markup": part.keyboard,
                                   "disable_notification": address.is_group and not reply.notify}
        if address.thread_id.isdigit():
            options["message_thread_id"] = int(address.thread_id)
        asked = reply.expects_answer and address.is_group and last and part.keyboard is None
        if delivery.reply_to.isdigit() and (first or asked):
            options["reply_parameters"] = ReplyParameters(int(delivery.reply_to), allow_sending_without_reply=True)
        if asked:
            # Privacy mode: only a reply to the bot reaches it. Selective: the field opens for the person asked.
            options["reply_markup"] = ForceReply(selective=delivery.reply_to.isdigit(),
                                                 input_field_placeholder=t("telegram.answer_here"))
        return options

    def _remember(self, key: tuple[int, Reply], done: int, message_id: str) -> None:
        now = time.monotonic()
        for stale in [k for k, (_, _, at) in self._progress.items() if at < now - PROGRESS_TTL]:
            del self._progress[stale]
        if done:
            self._progress[key] = (done, message_id, now)

    async def _send_part(self, chat_id: int, part: Part, options: dict[str, Any]) -> Message:
        try:
            return await self._post(chat_id, part, to_html(part.source), ParseMode.HTML, options)
        except BadRequest as error:
            if "entities" not in str(error):
                raise
            log.warning("telegram: HTML refused (%s); sent as plain text", error)
            return await self._post(chat_id, part, to_plain(part.source), None, options)

    async def _post(self, chat_id: int, part: Part, text: str, parse_mode: str | None,
                    options: dict[str, Any]) -> Message:
        bot, attachment = self.bot, part.attachment
        if attachment is None:
            return await bot.send_message(chat_id, text, parse_mode=parse_mode, link_preview_options=NO_PREVIEW,
                                          **options)
        caption = text or None
        if part.is_photo:
            with contextlib.suppress(BadRequest):  # an image Telegram cannot process still goes, as a file
                return await bot.send_photo(chat_id, attachment.data, caption=caption, parse_mode=parse_mode,
                                            filename=attachment.name, **options)
        return await bot.send_document(chat_id, attachment.data, caption=caption, parse_mode=parse_mode,
                                       filename=attachment.name, **options)
