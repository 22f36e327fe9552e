"""Telegram's text checks as the Bot API applies them: parse modes (HTML, MarkdownV2, Markdown), keyboards."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64


class MarkupError(ValueError):
    """A text or keyboard Telegram would refuse; the message is Telegram's wording after "Bad Request: "."""


@dataclass
class Parsed:
    """The text a user sees and its entities (offsets, lengths in UTF-16 code units as Telegram counts)."""

    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    _u16: int = 0

    def emit(self, chunk: str) -> None:
        self.text += chunk
        self._u16 += utf16_len(chunk)

    @property
    def pos(self) -> int:
        return self._u16

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self._u16 > start:  # Telegram drops empty entities silently
            self.entities.append({"type": kind, "offset": start, "length": self._u16 - start, **extra})


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_text(text: str, parse_mode: str | None, *, limit: int = MAX_TEXT, what: str = "message") -> Parsed:
    """Render `text` as Telegram would, or raise MarkupError with Telegram's wording."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        parsed = _parse_html(text)
    elif mode == "markdownv2":
        parsed = _parse_markdown_v2(text)
    elif mode == "markdown":
        parsed = _parse_markdown(text)
    elif mode == "":
        parsed = Parsed()
        parsed.emit(text)
    else:
        raise MarkupError(f"unsupported parse_mode {parse_mode!r}")
    if what == "message" and not parsed.text.strip():
        raise MarkupError("message text is empty")
    if utf16_len(parsed.text) > limit:
        raise MarkupError("message is too long" if what == "message" else "message caption is too long")
    parsed.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return parsed


# -- HTML ---------------------------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
    "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR_VALUE = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s>\"']+")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")


def _byte(text: str, i: int) -> int:
    return len(text[:i].encode())


def _parse_html(text: str) -> Parsed:
    out = Parsed()
    stack: list[tuple[str, int, dict[str, str]]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&" and (m := _ENTITY.match(text, i)):
            out.emit(html.unescape(m.group(0)))
            i = m.end()
        elif c != "<":
            out.emit(c)  # a lone "&" or ">" is kept literally, as Telegram does
            i += 1
        elif text.startswith("</", i):
            i = _html_end_tag(text, i, stack, out)
        else:
            i = _html_start_tag(text, i, stack, out)
    if stack:
        top = stack[-1][0]
        raise MarkupError(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{top}"')
    return out


def _html_start_tag(text: str, i: int, stack: list[tuple[str, int, dict[str, str]]], out: Parsed) -> int:
    at = _byte(text, i)
    name_match = _NAME.match(text, i + 1)
    assert name_match is not None
    name = name_match.group(0).lower()
    if name not in _HTML_TAGS:
        raise MarkupError(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {at}')
    j, attrs = name_match.end(), {}
    while True:
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text):
            raise MarkupError(f"can't parse entities: Unclosed start tag at byte offset {at}")
        if text[j] == ">":
            break
        attr = _NAME.match(text, j)
        assert attr is not None
        if not attr.group(0):
            raise MarkupError(
                f'can\'t parse entities: Empty attribute name in the tag "{name}" at byte offset {at}'
            )
        j, value = attr.end(), ""
        while j < len(text) and text[j].isspace():
            j += 1
        if j < len(text) and text[j] == "=":
            j += 1
            while j < len(text) and text[j].isspace():
                j += 1
            if not (vm := _ATTR_VALUE.match(text, j)):
                raise MarkupError(f"can't parse entities: Unclosed start tag at byte offset {at}")
            value, j = html.unescape(vm.group(0).strip("\"'")), vm.end()
        attrs[attr.group(0).lower()] = value
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise MarkupError('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise MarkupError("can't parse entities: Custom emoji entity must contain a tg://emoji URL")
    stack.append((name, out.pos, attrs))
    return j + 1


def _html_end_tag(text: str, i: int, stack: list[tuple[str, int, dict[str, str]]], out: Parsed) -> int:
    at = _byte(text, i)
    m = re.compile(r"</([A-Za-z0-9-]*)\s*>").match(text, i)
    if not m:
        raise MarkupError(f"can't parse entities: Unclosed end tag at byte offset {at}")
    name = m.group(1).lower()
    if not stack:
        raise MarkupError(f"can't parse entities: Unexpected end tag at byte offset {at}")
    top, start, attrs = stack.pop()
    if name != top:
        raise MarkupError(f'can\'t parse entities: Unmatched end tag at byte offset {at}, '
                          f'expected "</{top}>", found "</{name}>"')
    kind, extra = _HTML_TAGS[top], {}
    if kind == "text_link":
        if not attrs.get("href"):
            return m.end()  # Telegram keeps the text and drops a link without href
        extra = {"url": attrs["href"]}
    elif kind == "custom_emoji":
        extra = {"custom_emoji_id": attrs["emoji-id"]}
    elif kind == "code" and attrs.get("class", "").startswith("language-"):
        extra = {"language": attrs["class"].removeprefix("language-")}
    elif kind == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    out.add(kind, start, **extra)
    return m.end()


# -- MarkdownV2 ---------------------------------------------------------------------------------------------

_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_KIND = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _reserved(c: str) -> MarkupError:
    return MarkupError(
        f"can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
    )


def _parse_markdown_v2(text: str) -> Parsed:
    out = Parsed()
    stack: list[tuple[str, int, int]] = []  # marker, start (UTF-16), byte offset of the marker
    quote: int | None = None
    i = 0
    while i < len(text):
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if at_line_start and quote is not None and c != ">":
            out.add("blockquote", quote)
            quote = None
        if c == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            out.emit(text[i + 1])
            i += 2
        elif stack and stack[-1][0].startswith("`"):
            i = _md2_in_code(text, i, stack, out)
        elif c not in _RESERVED:
            out.emit(c)
            i += 1
        elif c == ">" and at_line_start:
            quote = out.pos if quote is None else quote
            i += 1
        elif c == "`":
            marker = "```" if text.startswith("```", i) else "`"
            i += len(marker)
            language = ""
            if marker == "```" and (nl := text.find("\n", i)) != -1 and re.fullmatch(r"[\w+#-]*", text[i:nl]):
                language, i = text[i:nl], nl + 1
            stack.append((marker + language, out.pos, _byte(text, i)))
        elif c == "[" or (c == "!" and text.startswith("![", i)):
            stack.append(("![" if c == "!" else "[", out.pos, _byte(text, i)))
            i += 2 if c == "!" else 1
        elif c == "]" and stack and stack[-1][0] in ("[", "!["):
            i = _md2_link_end(text, i, stack, out)
        elif (found := _md2_marker(text, i)) is not None:
            marker = found
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.add(_MD2_KIND[marker], start)
            elif any(m == marker for m, _, _ in stack):
                raise MarkupError(f"can't parse entities: Can't find end of {_MD2_KIND[marker]} entity")
            else:
                stack.append((marker, out.pos, _byte(text, i)))
            i += len(marker)
        else:
            raise _reserved(c)
    if quote is not None:
        out.add("blockquote", quote)
    if stack:
        marker, _, at = stack[-1]
        kind = _MD2_KIND.get(marker) or ("text_link" if "[" in marker
                                         else "pre" if "```" in marker else "code")
        raise MarkupError(f"can't parse entities: Can't find end of {kind} entity at byte offset {at}")
    return out


def _md2_marker(text: str, i: int) -> str | None:
    c = text[i]
    if c == "_":
        return "__" if text.startswith("__", i) else "_"
    if c == "|":
        return "||" if text.startswith("||", i) else None
    return c if c in ("*", "~") else None


def _md2_in_code(text: str, i: int, stack: list[tuple[str, int, int]], out: Parsed) -> int:
    marker, start, _ = stack[-1]
    if marker.startswith("```") and text.startswith("```", i):
        stack.pop()
        language = marker[3:]
        out.add("pre", start, **({"language": language} if language else {}))
        return i + 3
    if marker == "`" and text[i] == "`":
        stack.pop()
        out.add("code", start)
        return i + 1
    out.emit(text[i])
    return i + 1


def _md2_link_end(text: str, i: int, stack: list[tuple[str, int, int]], out: Parsed) -> int:
    marker, start, at = stack.pop()
    i += 1
    if not text.startswith("(", i):
        if marker == "![":
            raise MarkupError(f"can't parse entities: Custom emoji entity at {at} needs a tg://emoji URL")
        return i  # "[text]" without a URL: Telegram keeps the text
    url, j = "", i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        url += text[j]
        j += 1
    if j >= len(text):
        raise MarkupError(f"can't parse entities: Can't find end of a URL at byte offset {_byte(text, i)}")
    if marker == "![":
        out.add("custom_emoji", start, custom_emoji_id=url.rpartition("id=")[2])
    else:
        out.add("text_link", start, url=url)
    return j + 1


# -- legacy Markdown ----------------------------------------------------------------------------------------

_MD_KIND = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}


def _parse_markdown(text: str) -> Parsed:
    out = Parsed()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.emit(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.emit(c)
            i += 1
            continue
        marker = "```" if text.startswith("```", i) else ("]" if c == "[" else c)
        end = text.find(marker, i + len(marker) if marker != "]" else i + 1)
        if end == -1:
            at = _byte(text, i)
            raise MarkupError(f"can't parse entities: Can't find end of the entity starting at byte offset "
                              f"{at}")
        start = out.pos
        out.emit(text[i + (1 if marker == "]" else len(marker)) : end])
        if marker == "]":
            close = text.find(")", end) if text.startswith("(", end + 1) else -1
            if close != -1:
                out.add("text_link", start, url=text[end + 2 : close])
                i = close + 1
            else:
                i = end + 1
        else:
            out.add(_MD_KIND[marker], start)
            i = end + len(marker)
    return out


# -- keyboards ----------------------------------------------------------------------------------------------

_BUTTON_ACTIONS = {
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
}


def parse_reply_markup(raw: Any) -> dict[str, Any] | None:
    """Decode and check a reply_markup parameter (a JSON string from PTB) as Telegram would."""
    if raw is None or raw == "":
        return None
    try:
        markup = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise MarkupError("can't parse reply keyboard markup JSON object") from exc
    if not isinstance(markup, dict):
        raise MarkupError("object expected as reply markup")
    if "inline_keyboard" in markup:
        _check_inline_keyboard(markup["inline_keyboard"])
    return markup


def _check_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise MarkupError("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
                raise MarkupError("can't parse inline keyboard button: Text must be non-empty")
            actions = _BUTTON_ACTIONS & button.keys()
            if len(actions) != 1:
                raise MarkupError(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            ):
                raise MarkupError("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and not (isinstance(url, str) and re.match(r"(https?|tg)://\S+$", url)):
                raise MarkupError("BUTTON_URL_INVALID")
