"""A Reply as Telegram messages: texts split under 4096 characters, inline keyboards, attachments, the ✓ mark."""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.events import Attachment, Reply
from bot.markup import token_spans

MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units of the visible text
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
# Room kept in every text part for the « ✓ label » line added when a button of it is pressed.
MARK_ROOM = 96
TEXT_LIMIT = MAX_TEXT - MARK_ROOM
MAX_MARK_LABEL = 60
PHOTO_TYPES = frozenset({"image/png", "image/jpeg"})
# Callback data too long for Telegram: the button carries its position and the press is read as its label.
BY_LABEL = "~"


@dataclass(frozen=True, slots=True)
class Part:
    """One Telegram message of a reply: its text in the reply markup, its keyboard, its file."""

    source: str
    keyboard: InlineKeyboardMarkup | None = None
    attachment: Attachment | None = None

    @property
    def is_photo(self) -> bool:
        return self.attachment is not None and self.attachment.mime in PHOTO_TYPES


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def plan(reply: Reply) -> list[Part]:
    """The messages that show `reply`, in order; only the last one carries the keyboard."""
    markup = keyboard(reply)
    attachment = reply.attachment
    if attachment is not None and utf16_len(reply.text) <= MAX_CAPTION:
        return [Part(reply.text, markup, attachment)]
    parts = [Part(text) for text in split_text(reply.text)] if reply.text.strip() else []
    if attachment is not None:
        return [*parts, Part("", markup, attachment)]
    if parts:
        parts[-1] = replace(parts[-1], keyboard=markup)
    return parts


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut the reply markup (before rendering) at paragraph, line or word boundaries, never inside
    **bold**, _italic_ or a link, so that every part renders to valid HTML of at most `limit` characters."""
    parts: list[str] = []
    while utf16_len(text) > limit:
        head, text = _cut(text, limit)
        if head.strip():
            parts.append(head)
    if text.strip() or not parts:
        parts.append(text)
    return parts


def _cut(text: str, limit: int) -> tuple[str, str]:
    end = _fit(text, limit)
    line_end = text.find("\n", end)  # no token spans a line: its tokens are those of the whole text
    spans = token_spans(text if line_end == -1 else text[:line_end])
    for separator, floor in (("\n\n", end // 2), ("\n", end // 2), (" ", end // 4)):
        at = text.rfind(separator, floor, end + len(separator))
        while at > 0 and _inside(at, spans):
            at = text.rfind(separator, floor, at)
        if at > 0:
            return text[:at], text[at + len(separator):]
    # One word longer than a message: cut it, before the token it falls in when there is one.
    at = next((start for start, stop in spans if start < end < stop and start > 0), end)
    return text[:at], text[at:]


def _fit(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _inside(at: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < at < stop for start, stop in spans)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Choices as inline buttons, `choices_per_row` to a row; callback data `prompt_id|choice_id`."""
    if not reply.choices:
        return None
    buttons = [InlineKeyboardButton(choice.label, callback_data=callback_data(reply.prompt_id, choice.id, index))
               for index, choice in enumerate(reply.choices)]
    per_row = max(1, reply.choices_per_row)
    return InlineKeyboardMarkup([buttons[i:i + per_row] for i in range(0, len(buttons), per_row)])


def callback_data(prompt_id: str, choice_id: str, index: int) -> str:
    data = f"{prompt_id}|{choice_id}"
    if len(data.encode()) <= MAX_CALLBACK_DATA and not data.startswith(BY_LABEL):
        return data
    return f"{BY_LABEL}{index}"  # never a trimmed id, which could name another choice


def read_callback(data: str) -> tuple[str, str] | None:
    """(prompt_id, choice_id) of a button's data; None for a button to be read by its label."""
    prompt_id, bar, choice_id = data.partition("|")
    if not bar or data.startswith(BY_LABEL):
        return None
    return prompt_id, choice_id


def chosen_html(message_html: str, label: str) -> str:
    """The pressed keyboard's message, its choice shown below it."""
    return f"{message_html}\n\n{escape(chosen_notice(label), quote=False)}"


def chosen_notice(label: str) -> str:
    """« ✓ label », short enough for a line under a message or a callback answer (200 characters)."""
    if len(label) > MAX_MARK_LABEL:
        label = label[: MAX_MARK_LABEL - 1] + "…"
    return f"✓ {label}"
