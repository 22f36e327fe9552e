"""French user texts: TOML catalogs beside the code that uses them (bot/texts/, each feature's package), looked up
by "catalog.key" where the catalog is the file's name."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

# Packages whose folders (and sub-packages' folders) hold catalogs: the core's and the features'.
CATALOG_ROOTS = ("bot", "handlers")


def _catalog_files() -> list[Traversable]:
    found: list[Traversable] = []
    pending = [resources.files(root) for root in CATALOG_ROOTS]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                pending.append(entry)
            elif entry.name.endswith(".toml"):
                found.append(entry)
    return sorted(found, key=lambda e: e.name)


@cache
def _catalog() -> dict[str, str]:
    texts: dict[str, str] = {}
    for entry in _catalog_files():
        prefix = entry.name.removesuffix(".toml")
        for key, value in tomllib.loads(entry.read_text("utf-8")).items():
            if not isinstance(value, str):
                continue
            if f"{prefix}.{key}" in texts:
                raise ValueError(f"text {prefix}.{key} defined twice")
            texts[f"{prefix}.{key}"] = value.strip("\n")
    return texts


def t(key: str, /, **values: Any) -> str:
    """The French text for `key` ("core.welcome"), with `{name}` fields filled in."""
    text = _catalog()[key]
    if not values:
        return text
    for name, value in values.items():  # « Karim B. » at the end of a sentence: one full stop, not two
        if isinstance(value, str) and value.endswith((".", "…", "!", "?")):
            text = re.sub(rf"(\{{{name}\}}(?:\*\*|_)?)\.", r"\1", text)
    return text.format(**values)


def has(key: str) -> bool:
    return key in _catalog()
