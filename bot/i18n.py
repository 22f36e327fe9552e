"""French user texts: one catalog per feature under bot/texts/*.toml, looked up by "file.key"."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def _catalog() -> dict[str, str]:
    texts: dict[str, str] = {}
    for entry in sorted(resources.files("bot.texts").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        prefix = entry.name.removesuffix(".toml")
        for key, value in tomllib.loads(entry.read_text("utf-8")).items():
            if isinstance(value, str):
                texts[f"{prefix}.{key}"] = value.strip("\n")
    return texts


def t(key: str, /, **values: Any) -> str:
    """The French text for `key` ("core.welcome"), with `{name}` fields filled in."""
    text = _catalog()[key]
    return text.format(**values) if values else text


def has(key: str) -> bool:
    return key in _catalog()
