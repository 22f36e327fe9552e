"""The small safe markup of replies (**bold**, _italic_, [label](url)) parsed once for every adapter."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

# `\x` is the escape of a markup character: literal() puts one before each in user text, so it shows as typed.
# Inside bold, italic and link labels an escape pair is one unit, so an escaped « * » never closes the bold.
_ESC = r"\\[\\*_\[\]]"
_TOKEN = re.compile(rf"{_ESC}|\*\*(?P<bold>(?:{_ESC}|[^\\\n])+?)\*\*"
                    rf"|(?<![\w\\])_(?P<italic>(?:{_ESC}|[^_\\\n])+?)_(?![\w])"
                    rf"|\[(?P<label>(?:{_ESC}|[^\]\\\n])+)\]\((?P<url>https?://[^)\s]+)\)")
_MARKUP_CHAR = re.compile(r"([\\*_\[\]])")
_ESCAPED = re.compile(r"\\([\\*_\[\]])")


def literal(text: str) -> str:
    """User text (a description, a name, a note) to put into a reply: every renderer shows it as typed.

    Each markup character gets its escape, so « [site](https://x) » or « **urgent** » typed by someone is never a
    link or bold in another person's view; adapters then escape HTML as for any plain text.
    """
    return _MARKUP_CHAR.sub(r"\\\1", text)


def _unescaped(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def render(text: str, *, bold: Callable[[str], str], italic: Callable[[str], str],
           link: Callable[[str, str], str], plain: Callable[[str], str]) -> str:
    """Walk the text once; each piece goes through the renderer of its kind (plain text escaped by `plain`)."""
    out, pos = [], 0
    for match in _TOKEN.finditer(text):
        out.append(plain(text[pos:match.start()]))
        if match["bold"] is not None:
            out.append(bold(plain(_unescaped(match["bold"]))))
        elif match["italic"] is not None:
            out.append(italic(plain(_unescaped(match["italic"]))))
        elif match["label"] is not None:
            out.append(link(plain(_unescaped(match["label"])), match["url"]))
        else:  # an escaped markup character
            out.append(plain(match.group()[1:]))
        pos = match.end()
    out.append(plain(text[pos:]))
    return "".join(out)


def token_spans(text: str) -> list[tuple[int, int]]:
    """Where each markup token starts and ends: a long text may be cut only outside them."""
    return [match.span() for match in _TOKEN.finditer(text)]


def to_html(text: str) -> str:
    return render(text, bold=lambda s: f"<b>{s}</b>", italic=lambda s: f"<i>{s}</i>",
                  link=lambda label, url: f'<a href="{escape(url, quote=True)}">{label}</a>',
                  plain=lambda s: escape(s, quote=False))


def to_plain(text: str) -> str:
    return render(text, bold=str, italic=str, link=lambda label, url: f"{label} ({url})", plain=str)
