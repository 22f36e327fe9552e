"""Personal data masked out of free text before it is stored: phones, e-mails, NIR, IBAN, birth dates, names."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from schwifty import IBAN

KINDS = {
    "email": "une adresse e-mail",
    "iban": "un IBAN",
    "nir": "un numéro de sécurité sociale",
    "phone": "un numéro de téléphone",
    "birthdate": "une date de naissance",
    "name": "un nom de personne",
    "address": "une adresse postale",
}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IBAN_LIKE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
NIR = re.compile(r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}"
                 r"(?:[ .]?\d{2})?\b", re.IGNORECASE)
MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
DATE = (rf"(?:0?[1-9]|[12]\d|3[01])(?:er)?\s*(?:[/.-]\s*(?:0?[1-9]|1[0-2])\s*[/.-]|\s+(?:{MONTHS})\s+)\s*"
        r"(?P<year>\d{4}|\d{2})(?![.\d])")
BIRTH_HINT = re.compile(rf"(?:n[ée]e?s?|naissance|ddn)\s*(?:le|du|:)?\s*{DATE}", re.IGNORECASE)
FULL_DATE = re.compile(rf"\b{DATE}\b", re.IGNORECASE)
TITLE = r"(?:M\.|Mr\.?|Mme\.?|Mlle\.?|Monsieur|Madame|Mademoiselle|Mmes|MM\.)"
NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\wÀ-ÿ'’-]+"
NAME = re.compile(rf"\b(?P<title>{TITLE})\s+(?:{NAME_WORD})(?:\s+{NAME_WORD})?")
STREET = re.compile(r"\b\d{1,4}\s*(?:bis|ter)?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|allée|allee|impasse|"
                    r"place|route|lotissement|résidence|residence|quai|cours)\s+[^\n,.;]{2,40}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Masked:
    text: str
    kinds: tuple[str, ...]  # what was removed, in KINDS order

    def summary(self) -> str:
        return ", ".join(KINDS[k] for k in self.kinds)


def _iban(match: re.Match[str]) -> bool:
    candidate = match.group(0)
    if candidate[:2].upper() == "FR":
        return True  # a French IBAN-shaped string is personal even with a typo in it
    try:
        IBAN(candidate.replace(" ", ""))
    except ValueError:
        return False
    return True


def _old_date(current_year: int) -> Callable[[re.Match[str]], bool]:
    def is_birth(match: re.Match[str]) -> bool:
        year = int(match["year"])
        year += 1900 if len(match["year"]) == 2 and year > current_year % 100 else 2000 if year < 100 else 0
        return year <= current_year - 12  # a full date that old in a description is somebody's birth date
    return is_birth


def _replace(text: str, pattern: re.Pattern[str], label: str, keep: Callable[[re.Match[str]], bool] | None = None,
             ) -> tuple[str, bool]:
    found = False

    def sub(match: re.Match[str]) -> str:
        nonlocal found
        if keep is not None and not keep(match):
            return match.group(0)
        found = True
        if pattern is NAME:
            return f"{match['title']} {label}"
        return label
    return pattern.sub(sub, text), found


def _phones(text: str) -> tuple[str, bool]:
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "FR")]
    for start, end in reversed(spans):
        text = text[:start] + "[téléphone masqué]" + text[end:]
    return text, bool(spans)


def mask(text: str, *, current_year: int) -> Masked:
    """The text with personal data replaced by labels like « [téléphone masqué] », and the kinds found."""
    found: list[str] = []
    steps: list[tuple[str, Callable[[str], tuple[str, bool]]]] = [
        ("email", lambda s: _replace(s, EMAIL, "[e-mail masqué]")),
        ("iban", lambda s: _replace(s, IBAN_LIKE, "[IBAN masqué]", _iban)),
        ("nir", lambda s: _replace(s, NIR, "[n° de sécurité sociale masqué]")),
        ("phone", _phones),
        ("birthdate", lambda s: _replace(s, BIRTH_HINT, "[date de naissance masquée]")),
        ("birthdate", lambda s: _replace(s, FULL_DATE, "[date de naissance masquée]", _old_date(current_year))),
        ("name", lambda s: _replace(s, NAME, "[nom masqué]")),
        ("address", lambda s: _replace(s, STREET, "[adresse masquée]")),
    ]
    for kind, step in steps:
        text, hit = step(text)
        if hit and kind not in found:
            found.append(kind)
    return Masked(text, tuple(k for k in KINDS if k in found))
