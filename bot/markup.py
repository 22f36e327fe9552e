"""The small safe markup of replies (**bold**, _italic_, [label](url)) parsed once for every adapter."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

_TOKEN = re.compile(r"\*\*(?P<bold>.+?)\*\*|(?<![\w])_(?P<italic>[^_\n]+?)_(?![\w])"
                    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)")


def render(text: str, *, bold: Callable[[str], str], italic: Callable[[str], str],
           link: Callable[[str, str], str], plain: Callable[[str], str]) -> str:
    """Walk the text once; each piece goes through the renderer of its kind (plain text escaped by `plain`)."""
    out, pos = [], 0
    for match in _TOKEN.finditer(text):
        out.append(plain(text[pos:match.start()]))
        if match["bold"] is not None:
            out.append(bold(plain(match["bold"])))
        elif match["italic"] is not None:
            out.append(italic(plain(match["italic"])))
        else:
            out.append(link(plain(match["label"]), match["url"]))
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
