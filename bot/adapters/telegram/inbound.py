"""Telegram updates as core events: texts and commands, button presses, shared locations, files; group manners."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import CallbackQuery, Chat, Message, MessageEntity, Update, User

from bot.adapters.telegram.render import BY_LABEL, read_callback
from bot.events import Address, ChoiceMade, Event, FileReceived, LocationShared, TextReceived

PLATFORM = "telegram"
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
# A command as Telegram marks it: /name (1-32 of [A-Za-z0-9_]), optionally @botusername.
COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@(?P<bot>[A-Za-z0-9_]{3,32}))?(?![A-Za-z0-9_@])")


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """What a message carries besides text: the file to fetch (getFile) before the core sees it."""

    file_id: str
    kind: str
    name: str
    mime: str
    size: int


@dataclass(frozen=True, slots=True)
class AnonymousAdmin:
    """A group admin posting as the group (Telegram's GroupAnonymousBot): nobody the bot can know."""

    address: Address
    command: str  # the command's name without "/", lowercased
    text: str  # the command as the core reads it ("/synthese mois")
    message_id: str


def address(chat: Chat, user: User, thread_id: str = "") -> Address:
    return Address(PLATFORM, str(chat.id), str(user.id), chat.type in GROUP_TYPES, user.first_name, thread_id)


def thread_of(message: Message) -> str:
    """The forum topic a message belongs to ("" outside forums: answers go to the chat itself)."""
    return str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else ""


def is_anonymous_admin(message: Message) -> bool:
    sender = message.sender_chat
    return sender is not None and sender.id == message.chat.id and message.chat.type in GROUP_TYPES


def anonymous_admin(update: Update, bot_username: str) -> AnonymousAdmin | None:
    """A command for this bot from an anonymous admin of the group; None for anything else."""
    message = update.message
    if message is None or not is_anonymous_admin(message):
        return None
    text = command_for_us(message.text or message.caption or "", bot_username)
    if not text:
        return None
    where = Address(PLATFORM, str(message.chat.id), "", True, "", thread_of(message))
    name = text.split(maxsplit=1)[0][1:].lower()
    return AnonymousAdmin(where, name, text, str(message.message_id))


def message_event(update: Update, bot_username: str, bot_id: int) -> tuple[Event, IncomingFile | None] | None:
    """The event of a new message (and the file it carries, to fetch), or None when the bot should stay silent
    (in groups: anything but commands for it, mentions of it and answers to its own messages; commands for
    another bot; other bots; channels)."""
    message, user = update.message, update.message.from_user if update.message else None
    if message is None or user is None or user.is_bot or message.chat.type == Chat.CHANNEL:
        return None
    # The message's id: unique in its chat, the same when Telegram delivers the update again, and what a
    # reply (a selective ForceReply) must point at.
    where, key = address(message.chat, user, thread_of(message)), str(message.message_id)
    written = message.text or message.caption or ""
    text = command_for_us(written, bot_username) if written else None
    if text == "":
        return None  # a command for another bot
    addressed = replies_to(message, bot_id) or mentions(message, bot_username)
    if where.is_group and not (text or addressed):
        return None  # privacy mode already does this; a bot made admin sees every message
    if text is None and written:
        text = without_mention(written, bot_username)
    addressed = addressed or not where.is_group
    if message.location is not None:
        return LocationShared(where, message.location.latitude, message.location.longitude, key), None
    file = incoming_file(message)
    if file is not None:
        return FileReceived(where, file.kind, file.name, file.mime, file.size, caption=text or "",
                            message_id=key), file
    if message.text and text:
        return TextReceived(where, text, key, addressed), None
    return None


def incoming_file(message: Message) -> IncomingFile | None:
    """The photo (its largest size), document, voice note, audio, video or sticker of a message."""
    if message.photo:
        photo = message.photo[-1]
        return IncomingFile(photo.file_id, "photo", "photo.jpg", "image/jpeg", photo.file_size or 0)
    for kind, default_name, default_mime in (("document", "document", "application/octet-stream"),
                                             ("voice", "message-vocal.ogg", "audio/ogg"),
                                             ("audio", "audio", "audio/mpeg"), ("video", "video.mp4", "video/mp4"),
                                             ("video_note", "video.mp4", "video/mp4"),
                                             ("sticker", "sticker.webp", "image/webp")):
        media = getattr(message, kind)
        if media is not None:
            name = getattr(media, "file_name", None) or default_name
            mime = getattr(media, "mime_type", None) or default_mime
            return IncomingFile(media.file_id, "video" if kind == "video_note" else kind, name, mime,
                                media.file_size or 0)
    return None


def command_for_us(text: str, bot_username: str) -> str | None:
    """"/aide@relais_bot x" -> "/aide x"; "" for a command addressed to another bot; None if no command."""
    match = COMMAND.match(text)
    if match is None:
        return None
    if match["bot"] is None:
        return text
    if match["bot"].lower() != bot_username.lower():
        return ""
    return text[: match.start("bot") - 1] + text[match.end():]


def replies_to(message: Message, bot_id: int) -> bool:
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def mentions(message: Message, bot_username: str) -> bool:
    """The message names the bot (@username), as an entity or in its text."""
    wanted = f"@{bot_username}".lower()
    found = message.parse_entities([MessageEntity.MENTION]) or message.parse_caption_entities(
        [MessageEntity.MENTION])
    return any(value.lower() == wanted for value in found.values()) or (
        bool(bot_username) and wanted in (message.text or message.caption or "").lower())


def without_mention(text: str, bot_username: str) -> str:
    """« @relais_bot bonjour » -> « bonjour » (the mention is how it reached the bot, not what was said)."""
    if not bot_username:
        return text
    stripped = re.sub(rf"@{re.escape(bot_username)}\b[,:]?", "", text, flags=re.IGNORECASE).strip()
    return stripped or text


def press_event(update: Update, query: CallbackQuery) -> Event | None:
    """A button press: ChoiceMade from `prompt_id|choice_id`; a button whose data was too long comes back
    as its label typed (the core matches it against the offered choices)."""
    message = query.message if isinstance(query.message, Message) else None
    chat = message.chat if message is not None else None
    thread = thread_of(message) if message is not None else ""
    where = address(chat, query.from_user, thread) if chat is not None else Address(
        PLATFORM, str(query.from_user.id), str(query.from_user.id), False, query.from_user.first_name)
    key = f"cb{query.id}"  # never equal to a message id of the chat
    parsed = read_callback(query.data or "")
    if parsed is not None:
        return ChoiceMade(where, parsed[0], parsed[1], key)
    label = pressed_label(query)
    if (query.data or "").startswith(BY_LABEL) and label:
        return TextReceived(where, label, key, addressed=True)
    return None


def pressed_label(query: CallbackQuery) -> str:
    """The text of the button that was pressed, read from the message's keyboard."""
    message = query.message if isinstance(query.message, Message) else None
    if message is None or message.reply_markup is None:
        return ""
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""
