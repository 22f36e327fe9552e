"""Folding of names for matching (case, accents, punctuation, « St »): never used for display."""

from __future__ import annotations

from unidecode import unidecode

_TO_SPACE = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()})
_SAINTS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_ARTICLES = ("le", "la", "les", "l", "aux", "las", "los")


_REMEMBERED = 5_000  # characters kept (French text uses a few hundred; what people type may hold any of Unicode)


class _Transliteration(dict[int, str]):
    """str.translate table from any character to its ASCII spelling, filled on first sight of each character: the
    same result as unidecode(text), character by character, at the speed of str.translate (a whole commune list
    folds in a fraction of the time). Bounded: past _REMEMBERED characters, new ones are spelt without being kept."""

    def __missing__(self, code: int) -> str:
        spelt = " " if code == ord("°") else unidecode(chr(code))
        if len(self) < _REMEMBERED:
            self[code] = spelt
        return spelt


_TO_ASCII = _Transliteration()


def fold(text: str) -> str:
    """Lowercase, unaccented, punctuation-free, single-spaced text with « st »/« ste » spelt out."""
    ascii_text = text if text.isascii() else text.translate(_TO_ASCII)
    words = ascii_text.lower().translate(_TO_SPACE).split()
    return " ".join([_SAINTS.get(word, word) for word in words])


def strip_article(folded: str) -> str:
    """A folded name without its leading article (le, la, les, l, aux, las, los)."""
    head, _, rest = folded.partition(" ")
    return rest if rest and head in _ARTICLES else folded
