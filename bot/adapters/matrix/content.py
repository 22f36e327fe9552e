"""Matrix message contents of a Reply: a notice (or a ringing text) with HTML, numbered choices, mentions, threads,
file events."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from html import escape
from typing import Any

from bot.events import Attachment, Reply
from bot.i18n import t
from bot.markup import to_html, to_plain

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


COMMAND = re.compile(r"(?<![\w:/.])/([a-z_]{2,32})\b")


def bang_commands(text: str) -> str:
    """« /aide » becomes « !aide »: Element and Tchap keep a leading "/" for their own commands."""
    return COMMAND.sub(r"!\1", text)


@dataclass(frozen=True, slots=True)
class Target:
    """Who and where in the room a message is for: the person (for a mention), the thread, the event answered."""

    user_id: str = ""
    name: str = ""  # display name, for the mention pill
    is_group: bool = False
    thread_id: str = ""
    reply_to: str = ""


def message(reply: Reply, target: Target = Target()) -> dict[str, Any]:
    """A reply as an m.room.message: an m.notice (never rings) unless the person must not miss it.

    `notify` makes it an m.text (`.m.rule.suppress_notices` silences notices), mentioning the person in a
    group; a question awaiting a typed answer in a group mentions the person and asks to answer the message
    (only a reply or a mention reaches the bot there)."""
    text = bang_commands(reply.text)
    plain, html = to_plain(text), html_body(text)
    if reply.choices:
        labels = [choice.label for choice in reply.choices]
        numbered = [f"{i}. {label}" for i, label in enumerate(labels, start=1)]
        plain = "\n".join(filter(None, [plain, *numbered, t("matrix.choices_hint")]))
        html += "<ol>" + "".join(f"<li>{escape(label, quote=False)}</li>" for label in labels) + "</ol>"
        html += f"<p><i>{escape(t('matrix.choices_hint'), quote=False)}</i></p>"
    mention = target.is_group and bool(target.user_id) and (reply.notify or reply.expects_answer)
    if mention:
        name = target.name or target.user_id.partition(":")[0].lstrip("@")
        pill = f'<a href="https://matrix.to/#/{escape(target.user_id)}">{escape(name, quote=False)}</a>'
        plain, html = f"{name} : {plain}", f"{pill} : {html}"
        if reply.expects_answer:
            plain += "\n" + t("matrix.answer_here")
            html += f"<br><i>{escape(t('matrix.answer_here'), quote=False)}</i>"
    content: dict[str, Any] = {"msgtype": "m.text" if reply.notify or mention else "m.notice", "body": plain,
                               "format": "org.matrix.custom.html", "formatted_body": html,
                               "m.mentions": {"user_ids": [target.user_id]} if mention else {}}
    relation = relates_to(target)
    if relation:
        content["m.relates_to"] = relation
    return content


def notice(reply: Reply, reply_to: str = "") -> dict[str, Any]:
    """The text of a reply with no particular target (an m.notice unless it must notify)."""
    return message(reply, Target(reply_to=reply_to))


def relates_to(target: Target) -> dict[str, Any]:
    """In a thread: the thread relation (with a reply fallback for clients without threads); else a reply."""
    if target.thread_id:
        return {"rel_type": "m.thread", "event_id": target.thread_id, "is_falling_back": not target.reply_to,
                "m.in_reply_to": {"event_id": target.reply_to or target.thread_id}}
    if target.reply_to:
        return {"m.in_reply_to": {"event_id": target.reply_to}}
    return {}


def html_body(text: str) -> str:
    """Lines become <br>, runs of "- " lines an <ul>; an indented line continues the list item above it."""
    out: list[str] = []
    items: list[str] = []
    for line in text.split("\n"):
        if line.startswith("- "):
            items.append(to_html(line[2:]))
        elif items and line.startswith("  ") and line.strip():
            items[-1] += "<br>" + to_html(line.strip())
        else:
            _close_list(out, items)
            out.append(to_html(line) + "<br>")
    _close_list(out, items)
    return "".join(out).removesuffix("<br>")


def _close_list(out: list[str], items: list[str]) -> None:
    if items:
        out.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
        items.clear()


def file_message(attachment: Attachment, url: str, keys: dict[str, Any] | None,
                 target: Target = Target()) -> dict[str, Any]:
    """An m.image (PNG, JPEG…) or m.file event; `keys` (from an encrypted upload) puts the url under `file`."""
    info: dict[str, Any] = {"mimetype": attachment.mime, "size": len(attachment.data)}
    msgtype = "m.image" if attachment.mime.startswith("image/") else "m.file"
    size = png_size(attachment.data)
    if size:
        info["w"], info["h"] = size
    content: dict[str, Any] = {"msgtype": msgtype, "body": attachment.name, "filename": attachment.name,
                               "info": info, "m.mentions": {}}
    if keys is None:
        content["url"] = url
    else:
        content["file"] = {**keys, "url": url}
    if target.thread_id:
        content["m.relates_to"] = relates_to(Target(thread_id=target.thread_id))
    return content


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (clients lay out the image before downloading it)."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
