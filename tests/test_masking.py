"""Masking measured on a labelled corpus of field workers' French (tests/corpora/masking.py): prints its figures.

Goals (issue 13): recall ≥ 97 % of personal items, ≤ 2 % of clean sentences altered, and only the labelled
spans masked (the rest of each sentence intact).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from handlers.reports.masking import LABELS, find, mask
from tests.corpora.masking import CLEAN, DEVELOPMENT, HELD_OUT, HELD_OUT_CLEAN, Case

YEAR = 2026


@dataclass
class Score:
    found: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)
    overmasked: list[str] = field(default_factory=list)
    sentences: int = 0

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(sum(self.total.values()), 1)


def _labelled(case: Case) -> list[tuple[str, str, range]]:
    """Every occurrence of each labelled substring, as character ranges."""
    found = []
    for kind, part in case.spans:
        start = case.text.find(part)
        while start >= 0:
            found.append((kind, part, range(start, start + len(part))))
            start = case.text.find(part, start + 1)
    return found


def score(cases: list[Case]) -> Score:
    result = Score(sentences=len(cases))
    for case in cases:
        covered = {i for s in find(case.text, current_year=YEAR) for i in range(s.start, s.end)}
        labelled = _labelled(case)
        for kind, part, where in labelled:
            result.total[kind] += 1
            if all(i in covered for i in where if case.text[i].isalnum()):
                result.found[kind] += 1
            else:
                stored = mask(case.text, current_year=YEAR).text
                result.missed.append(f"{kind}: {part!r} in {case.text!r} -> {stored!r}")
        inside = {i for _, _, where in labelled for i in where}
        if any(i in covered for i, ch in enumerate(case.text) if ch.isalnum() and i not in inside):
            result.overmasked.append(f"{case.text!r} -> {mask(case.text, current_year=YEAR).text!r}")
    return result


def altered(sentences: list[str]) -> list[str]:
    return [f"{s!r} -> {mask(s, current_year=YEAR).text!r}" for s in sentences
            if mask(s, current_year=YEAR).text != s]


def _report(title: str, personal: Score, clean: list[str], wrong: list[str]) -> None:
    print(f"\n== {title}: {personal.sentences} sentences with personal data, {len(clean)} clean ==")
    for kind in LABELS:
        if personal.total[kind]:
            print(f"  {kind:<12} {personal.found[kind]:>3}/{personal.total[kind]:<3} "
                  f"{100 * personal.found[kind] / personal.total[kind]:5.1f} %")
    print(f"  recall       {sum(personal.found.values())}/{sum(personal.total.values())} "
          f"= {100 * personal.recall:.1f} %")
    print(f"  clean sentences altered: {len(wrong)}/{len(clean)} = {100 * len(wrong) / len(clean):.1f} %")
    intact = personal.sentences - len(personal.overmasked)
    print(f"  rest intact: {intact}/{personal.sentences} = {100 * intact / max(personal.sentences, 1):.1f} %")
    for line in personal.missed:
        print("  MISSED", line)
    for line in personal.overmasked:
        print("  OVER-MASKED", line)
    for line in wrong:
        print("  FALSE ALARM", line)


def test_masking_corpus_meets_the_goals() -> None:
    dev, held = score(DEVELOPMENT), score(HELD_OUT)
    dev_wrong, held_wrong = altered(CLEAN), altered(HELD_OUT_CLEAN)
    _report("development (written before the rules)", dev, CLEAN, dev_wrong)
    _report("held out (written after the rules)", held, HELD_OUT_CLEAN, held_wrong)
    both = score(DEVELOPMENT + HELD_OUT)
    clean = CLEAN + HELD_OUT_CLEAN
    wrong = dev_wrong + held_wrong
    print(f"\n== all: recall {100 * both.recall:.1f} %, clean altered {100 * len(wrong) / len(clean):.1f} %, "
          f"rest intact {100 * (both.sentences - len(both.overmasked)) / both.sentences:.1f} % ==")
    assert len(DEVELOPMENT) + len(HELD_OUT) >= 150 and len(clean) >= 50
    assert both.recall >= 0.97
    assert len(wrong) <= 0.02 * len(clean)
    assert len(both.overmasked) <= 0.03 * both.sentences


@pytest.mark.parametrize("raw, stored", [
    ("La médiathèque du 2 rue de la Mairie à Romagné n'a plus de wifi depuis le 15/11",
     "La médiathèque du 2 rue de la Mairie à Romagné n'a plus de wifi depuis le 15/11"),
    ("elle habite 12 rue des Lilas à Romagné et n'a plus de wifi depuis le 15/11",
     "elle habite [adresse masquée] à Romagné et n'a plus de wifi depuis le 15/11"),
    ("monsieur Lefèvre 06 12 34 56 78", "monsieur [nom masqué] [téléphone masqué]"),
    ("M. le Maire et Mme Durand", "M. le Maire et Mme [nom masqué]"),
])
def test_only_the_personal_span_is_replaced(raw: str, stored: str) -> None:
    assert mask(raw, current_year=YEAR).text == stored


def test_kinds_are_said_in_a_fixed_order() -> None:
    masked = mask("Karim Benali, 06 12 34 56 78, passeport n° 19AB12345", current_year=YEAR)
    assert masked.kinds == ("phone", "passport", "name")
    assert masked.summary() == "un numéro de téléphone, un numéro de passeport, un nom de personne"


def test_relais_mask_prints_the_text_as_it_would_be_stored(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATA_DIR=str(tmp_path), RELAIS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    typed = "chez Karim Benali (06 12 34 56 78) la box ne marche plus depuis le 15/11"
    done = subprocess.run([sys.executable, "-m", "bot", "mask", typed], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "chez [nom masqué] ([téléphone masqué]) la box ne marche plus depuis le 15/11\n"
    assert "un numéro de téléphone, un nom de personne" in done.stderr
    assert "Karim" not in done.stderr


def test_the_model_asked_for_twice_while_loading_is_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`relais run` loads the masking model in a thread once the bot answers; a report typed meanwhile asks for it
    too. It must wait for that load, not start a second one (twice the memory, both fighting over the
    interpreter for twice as long while the bot stops answering)."""
    import spacy

    from handlers.reports import masking_words

    loads: list[str] = []
    real_load = spacy.load

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(str(args[0]))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(spacy, "load", counted)
    masking_words._loaded.cache_clear()
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: masking_words.lexicon(), range(2))
    assert len(loads) == 1
    assert first is second
    assert mask("monsieur Lefèvre 06 12 34 56 78", current_year=YEAR).text == "monsieur [nom masqué] [téléphone masqué]"
