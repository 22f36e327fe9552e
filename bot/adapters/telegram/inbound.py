"""Telegram updates as core events: texts and commands, button presses, shared locations; group manners."""

from __future__ import annotations

import re

from telegram import CallbackQuery, Chat, Message, Update, User

from bot.adapters.telegram.render import BY_LABEL, read_callback
from bot.events import Address, ChoiceMade, Event, LocationShared, TextReceived

PLATFORM = "telegram"
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})
# A command as Telegram marks it: /name (1-32 of [A-Za-z0-9_]), optionally @botusername.
COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@(?P<bot>[A-Za-z0-9_]{3,32}))?(?![A-Za-z0-9_@])")


def address(chat: Chat, user: User) -> Address:
    return Address(PLATFORM, str(chat.id), str(user.id), chat.type in GROUP_TYPES, user.first_name)


def message_event(update: Update, bot_username: str, bot_id: int) -> Event | None:
    """The event of a new message, or None when the bot should stay silent (in groups: anything but
    commands for it and answers to its own messages; commands for another bot; other bots; channels)."""
    message, user = update.message, update.message.from_user if update.message else None
    if message is None or user is None or user.is_bot or message.chat.type == Chat.CHANNEL:
        return None
    where, key = address(message.chat, user), str(update.update_id)
    text = command_for_us(message.text, bot_username) if message.text else None
    if where.is_group and not (message.text and text) and not replies_to(message, bot_id):
        return None  # privacy mode already does this; a bot made admin sees every message
    if message.location is not None:
        return LocationShared(where, message.location.latitude, message.location.longitude, key)
    if message.text:
        return TextReceived(where, text or message.text, key) if text != "" else None
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


def press_event(update: Update, query: CallbackQuery) -> Event | None:
    """A button press: ChoiceMade from `prompt_id|choice_id`; a button whose data was too long comes back
    as its label typed (the core matches it against the offered choices)."""
    message = query.message if isinstance(query.message, Message) else None
    chat = message.chat if message is not None else None
    where = address(chat, query.from_user) if chat is not None else Address(
        PLATFORM, str(query.from_user.id), str(query.from_user.id), False, query.from_user.first_name)
    key = str(update.update_id)
    parsed = read_callback(query.data or "")
    if parsed is not None:
        return ChoiceMade(where, parsed[0], parsed[1], key)
    label = pressed_label(query)
    if (query.data or "").startswith(BY_LABEL) and label:
        return TextReceived(where, label, key)
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
