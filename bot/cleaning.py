"""Incoming text cleaned at the edge: no NUL (PostgreSQL refuses it), no control or invisible characters, NFC."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields, replace
from typing import TypeVar

from bot.events import Address

# C0 and C1 controls except tab and newline, DEL, and the zero-width / bidi-format characters that hide text
# (ZWSP, ZWNJ, ZWJ, LRM, RLM, LRE…RLO, word joiner…invisible plus, LRI…PDI, BOM) and the soft hyphen.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
                       "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")

E = TypeVar("E")


def clean_text(text: str) -> str:
    """What the person meant to type: controls and invisible characters dropped, \\r\\n as \\n, NFC."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", _UNWANTED.sub("", text))


def cleaned(event: E) -> E:
    """The same event with every text field (and the sender's display name) cleaned."""
    changes: dict[str, object] = {}
    for field in fields(event):  # type: ignore[arg-type]
        value = getattr(event, field.name)
        if isinstance(value, str):
            changes[field.name] = clean_text(value)
        elif isinstance(value, Address):
            changes[field.name] = replace(value, display_name=clean_text(value.display_name))
    return replace(event, **changes)  # type: ignore[type-var]
