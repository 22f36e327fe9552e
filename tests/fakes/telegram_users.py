"""Simulated Telegram users and groups for the fake Bot API, and the checks on every update they make."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_markup import utf16_len

if TYPE_CHECKING:
    from tests.fakes.telegram_api import FakeTelegram, SentMessage

GROUP_TYPES = ("group", "supergroup")
ANONYMOUS_BOT_ID = 1087968824  # Telegram's GroupAnonymousBot
CHAT_TYPES = ("private", "channel", *GROUP_TYPES)
MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")
# What Telegram recognises as a command: /name (1-32 of [A-Za-z0-9_]), optionally @botusername.
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class InvalidUpdate(ValueError):
    """An update PTB could not parse: raised in the test, never handed to the bot (PTB would spin on it)."""


def check_update(update: dict[str, Any]) -> None:
    """Refuse an update missing a field PTB requires (Update, Message, Chat, User, CallbackQuery)."""
    _need(update, "update_id", int, "update")
    kinds = [key for key in update if key != "update_id"]
    if len(kinds) != 1:
        raise InvalidUpdate(f"an update carries exactly one object besides update_id, got {kinds}")
    kind = kinds[0]
    if kind in MESSAGE_KINDS:
        _check_message(update[kind], kind)
    elif kind == "callback_query":
        query = update[kind]
        _need(query, "id", str, kind)
        _check_user(_need(query, "from", dict, kind), f"{kind}.from")
        _need(query, "chat_instance", str, kind)
        if "message" in query:
            _check_message(query["message"], f"{kind}.message")
        if "data" in query:
            _need(query, "data", str, kind)
    elif not isinstance(update[kind], dict):
        raise InvalidUpdate(f"update.{kind} must be an object")


def _need(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InvalidUpdate(f"{where}.{key} is required")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidUpdate(f"{where}.{key} must be {kind.__name__}, got {value!r}")
    return value


def _check_user(user: dict[str, Any], where: str) -> None:
    _need(user, "id", int, where)
    _need(user, "is_bot", bool, where)
    _need(user, "first_name", str, where)


def _check_message(message: dict[str, Any], where: str) -> None:
    _need(message, "message_id", int, where)
    if _need(message, "date", int, where) <= 0:
        raise InvalidUpdate(f"{where}.date must be positive (0 makes PTB see an inaccessible message)")
    chat = _need(message, "chat", dict, where)
    _need(chat, "id", int, f"{where}.chat")
    if _need(chat, "type", str, f"{where}.chat") not in CHAT_TYPES:
        raise InvalidUpdate(f"{where}.chat.type must be one of {CHAT_TYPES}")
    if "from" in message:
        _check_user(message["from"], f"{where}.from")
    text = message.get("text", message.get("caption", ""))
    for entity in message.get("entities", []) + message.get("caption_entities", []):
        _need(entity, "type", str, f"{where}.entities[]")
        offset = _need(entity, "offset", int, f"{where}.entities[]")
        length = _need(entity, "length", int, f"{where}.entities[]")
        if offset < 0 or length <= 0 or offset + length > utf16_len(text):
            raise InvalidUpdate(f"{where}: entity {entity} lies outside the text {text!r}")
    if "reply_to_message" in message:
        _check_message(message["reply_to_message"], f"{where}.reply_to_message")


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram puts on a text starting with a command (CommandHandler needs it)."""
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


class FakeUser:
    """A person talking to the bot in one chat (their private chat unless built for a group)."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        chat: dict[str, Any],
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "fr",
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.chat = chat
        self.user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        extras = {"last_name": last_name, "username": username, "language_code": language_code}
        self.user.update({key: value for key, value in extras.items() if value is not None})

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    async def say(self, text: str, *, reply_to: SentMessage | int | None = None,
                  topic: int | None = None) -> dict[str, Any]:
        """Send `text` to the bot (in forum topic `topic`); returns the Message object as delivered."""
        message = self.compose(text=text)
        if topic is not None:
            message["message_thread_id"], message["is_topic_message"] = topic, True
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            replied = self.fake.message_payload(self.chat_id, reply_to if isinstance(reply_to, int)
                                                else reply_to.message_id)
            if replied is None:
                raise LookupError(f"no message {reply_to!r} in chat {self.chat_id}")
            message["reply_to_message"] = replied
        await self._send(message)
        return message

    async def share_location(self, lat: float, lon: float) -> dict[str, Any]:
        message = self.compose(location={"latitude": lat, "longitude": lon})
        await self._send(message)
        return message

    async def send_document(
        self, name: str, data: bytes, mime: str = "application/octet-stream", caption: str | None = None
    ) -> dict[str, Any]:
        """Upload a file to the bot; the bot can fetch it back through getFile and the file URL."""
        document = self.fake.store_file(name, mime, data)
        message = self.compose(document=document)
        if caption is not None:
            message["caption"] = caption
        await self._send(message)
        return message

    async def send_photo(self, data: bytes, caption: str | None = None) -> dict[str, Any]:
        message = self.compose(photo=self.fake.store_photo(data))
        if caption is not None:
            message["caption"] = caption
            if entities := command_entities(caption):
                message["caption_entities"] = entities
        await self._send(message)
        return message

    async def send_voice(self, data: bytes) -> dict[str, Any]:
        message = self.compose(voice=self.fake.store_voice(data))
        await self._send(message)
        return message

    async def press(self, message: SentMessage, label_or_data: str) -> str:
        """Press an inline button of the bot's message (by label, else callback data); return the query id."""
        current = self.fake.message_payload(message.chat_id, message.message_id)
        if current is None:
            raise LookupError(f"the bot sent no message {message.message_id} to chat {message.chat_id}")
        buttons = [b for row in current.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        chosen = next((b for b in buttons if b["text"] == label_or_data), None) or next(
            (b for b in buttons if b.get("callback_data") == label_or_data), None
        )
        if chosen is None or "callback_data" not in chosen:
            offered = [(b["text"], b.get("callback_data")) for b in buttons]
            raise LookupError(f"no callback button {label_or_data!r} on message {message.message_id}: "
                              f"{offered}")
        query_id = self.fake.new_callback_id()
        query = {
            "id": query_id,
            "from": self.user,
            "chat_instance": str(abs(message.chat_id) * 7919 % 10**12),
            "message": current,
            "data": chosen["callback_data"],
        }
        await self.fake.enqueue({"callback_query": query})
        return query_id

    async def _send(self, message: dict[str, Any]) -> None:
        if self._bot_sees(message):
            await self.fake.enqueue({"message": message})
        else:
            self.fake.counts["privacy_filtered"] += 1

    def _bot_sees(self, message: dict[str, Any]) -> bool:
        """Privacy mode: in groups a bot gets only commands (not another bot's), mentions, replies to it."""
        if self.chat["type"] not in GROUP_TYPES or not self.fake.privacy_mode:
            return True
        bot = self.fake.bot_user
        text = message.get("text") or message.get("caption") or ""
        if command := _COMMAND.match(text):
            addressee = command.group(0).partition("@")[2]
            return not addressee or addressee.lower() == bot["username"].lower()
        replied_to = message.get("reply_to_message", {}).get("from", {}).get("id")
        return f"@{bot['username']}".lower() in text.lower() or replied_to == bot["id"]

    def compose(self, **content: Any) -> dict[str, Any]:
        """A new message from this user in its chat, not sent (wrap it in an update for `fake.enqueue`)."""
        message = {
            "message_id": self.fake.next_message_id(self.chat_id),
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            **content,
        }
        self.fake.remember(message)
        return message


class FakeGroup:
    """A group chat (negative id) where several users talk to the bot."""

    def __init__(self, fake: FakeTelegram, chat: dict[str, Any]) -> None:
        self.fake = fake
        self.chat = chat

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def member(self, user_id: int, first_name: str = "Camille", **extra: Any) -> FakeUser:
        """A user speaking in this group."""
        return FakeUser(self.fake, user_id, first_name, self.chat, **extra)

    async def say(self, user: FakeUser | int, text: str, **kwargs: Any) -> dict[str, Any]:
        """`user` (a FakeUser from anywhere, or a user id) says `text` in this group."""
        speaker = self.member(user) if isinstance(user, int) else self.member(
            user.id, user.user["first_name"], **{k: v for k, v in user.user.items()
                                                  if k in ("last_name", "username", "language_code")}
        )
        return await speaker.say(text, **kwargs)

    async def press(self, user: FakeUser | int, message: SentMessage, label_or_data: str) -> str:
        speaker = self.member(user) if isinstance(user, int) else user
        return await speaker.press(message, label_or_data)

    async def say_anonymously(self, text: str) -> dict[str, Any]:
        """An admin with « Rester anonyme » on: Telegram shows the group as the sender and GroupAnonymousBot
        as `from`."""
        anonymous = FakeUser(self.fake, ANONYMOUS_BOT_ID, "Group", self.chat, username="GroupAnonymousBot",
                             language_code=None)
        anonymous.user["is_bot"] = True
        message = anonymous.compose(text=text, sender_chat=self.chat)
        if entities := command_entities(text):
            message["entities"] = entities
        await self.fake.enqueue({"message": message})
        return message
