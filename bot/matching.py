"""Loose matching of what people type: a choice by number or label, the closest known command."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

from bot.events import Choice
from storage.normalize import fold


def match_choice(text: str, offered: Sequence[Choice]) -> Choice | None:
    """"2", "2.", "2)", the label or one of its aliases (accents, case and small typos forgiven) -> the choice."""
    answer = fold(text)
    if answer.isdigit():
        index = int(answer) - 1
        return offered[index] if 0 <= index < len(offered) else None
    if not answer:
        return None
    labels = {fold(word): c for c in offered for word in (c.label, *c.aliases)}
    if answer in labels:
        return labels[answer]
    starts = {id(c): c for label, c in labels.items() if label.startswith(answer) and len(answer) >= 3}
    if len(starts) == 1:
        return next(iter(starts.values()))
    # A typo is forgiven in words, never in numbers: « Referent 24 » must not pick « Referent 02 »
    same_numbers = [label for label in labels if _numbers(label) == _numbers(answer)]
    best = process.extractOne(answer, same_numbers, scorer=fuzz.ratio, score_cutoff=85)
    return labels[best[0]] if best else None


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word nearest to a mistyped one (« /signale » -> « signaler »), if any is close enough."""
    candidates = list(known)
    best = process.extractOne(fold(word), candidates, scorer=fuzz.WRatio, score_cutoff=70)
    return best[0] if best else None
