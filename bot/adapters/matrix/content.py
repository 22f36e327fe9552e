"""Matrix message contents of a Reply: an m.notice with HTML, a numbered list of choices, file events."""

from __future__ import annotations

import re
import struct
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


def notice(reply: Reply, reply_to: str = "") -> dict[str, Any]:
    """The text of a reply as an m.notice: plain `body` for every client, HTML `formatted_body` for the rest."""
    text = bang_commands(reply.text)
    plain, html = to_plain(text), html_body(text)
    if reply.choices:
        labels = [choice.label for choice in reply.choices]
        numbered = [f"{i}. {label}" for i, label in enumerate(labels, start=1)]
        plain = "\n".join(filter(None, [plain, *numbered, t("matrix.choices_hint")]))
        html += "<ol>" + "".join(f"<li>{escape(label, quote=False)}</li>" for label in labels) + "</ol>"
        html += f"<p><i>{escape(t('matrix.choices_hint'), quote=False)}</i></p>"
    content: dict[str, Any] = {"msgtype": "m.notice", "body": plain, "format": "org.matrix.custom.html",
                               "formatted_body": html, "m.mentions": {}}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


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


def file_message(attachment: Attachment, url: str, keys: dict[str, Any] | None) -> dict[str, Any]:
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
    return content


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (clients lay out the image before downloading it)."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
