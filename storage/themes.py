"""Themes of help (partner services) and of field problems, read from a data file an admin can edit."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from storage.normalize import fold


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    label: str
    short: str
    words: tuple[str, ...]  # folded
    di: tuple[str, ...] = ()  # data·inclusion v1 `thematiques` codes (services: what a place offers)
    coop: tuple[str, ...] = ()  # Coop de la médiation numérique `Thematique` codes (the national reporting tool)

    def found_in(self, folded_text: str) -> int:
        """Length of the longest of this theme's words found as whole words in the text (0: none)."""
        padded = f" {folded_text} "
        return max((len(w) for w in (*self.words, fold(self.short), fold(self.label)) if f" {w} " in padded),
                   default=0)


@dataclass(frozen=True, slots=True)
class Themes:
    services: tuple[Theme, ...]
    problems: tuple[Theme, ...]

    def service(self, theme_id: str) -> Theme | None:
        return next((t for t in self.services if t.id == theme_id), None)

    def problem(self, theme_id: str) -> Theme | None:
        return next((t for t in self.problems if t.id == theme_id), None)


def _strings(entry: dict[str, object], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _themes(entries: list[dict[str, object]]) -> tuple[Theme, ...]:
    return tuple(Theme(str(e["id"]), str(e["label"]), str(e.get("short", e["label"])),
                       tuple(fold(w) for w in _strings(e, "words")), _strings(e, "di"), _strings(e, "coop"))
                 for e in entries)


def coop_codes() -> frozenset[str]:
    """The Coop's `Thematique` enumeration as copied in themes.toml (checked by the tests)."""
    return frozenset(_data().get("coop_thematiques", []))


def di_codes(theme_ids: tuple[str, ...]) -> tuple[str, ...]:
    """data·inclusion `thematiques` of these services, in order, without repeats."""
    found = (code for theme_id in theme_ids if (theme := themes().service(theme_id)) for code in theme.di)
    return tuple(dict.fromkeys(found))


@cache
def _data() -> dict[str, Any]:
    override = os.environ.get("RELAIS_THEMES_FILE")
    text = Path(override).read_text("utf-8") if override else (
        resources.files("storage.reference").joinpath("themes.toml").read_text("utf-8"))
    return tomllib.loads(text)


@cache
def themes() -> Themes:
    data = _data()
    return Themes(_themes(data["services"]), _themes(data["problems"]))


def guess(text: str, candidates: tuple[Theme, ...]) -> Theme | None:
    """The theme whose words best match the text (the longest matching word wins), if any matches."""
    folded = fold(text)
    best = max(candidates, key=lambda t: t.found_in(folded), default=None)
    return best if best is not None and best.found_in(folded) else None
