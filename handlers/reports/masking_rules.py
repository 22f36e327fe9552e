"""Rules for the personal data that has a shape: phones, e-mails, IBAN, NIR, birth dates, identifiers, addresses.

Each finder returns spans (start, end, kind) of the text; nothing here rewrites the text. Public data is left
alone on purpose: service numbers (0 800…, 3949), a venue's address, a meeting date, a ticket id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from schwifty import IBAN


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str


# --- e-mails, also written out (« jean.dupont at gmail point com ») -------------------------------------------
_AT = r"(?:\s*@\s*|\s*[(\[]\s*at\s*[)\]]\s*|\s+at\s+|\s+arobase\s+|\s*\(arobase\)\s*)"
_DOT = r"(?:\s*\.\s*|\s+point\s+|\s+dot\s+)"
_TLD = r"(?:com|fr|net|org|eu|re|gp|mq|gf|yt|be|ch|info|biz|io|me|de|es|it|ma|dz|tn|sn|ci|cm|mg|km)"
EMAIL = re.compile(rf"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w.+-]*\w{_AT}[\w-]+(?:{_DOT}[\w-]+)*?{_DOT}{_TLD}\b",
                   re.IGNORECASE)


def emails(text: str) -> Iterator[Span]:
    for m in EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "email")


# --- IBAN: French ones by their shape (a typo still hides an account), foreign ones checked by schwifty --------
IBAN_LIKE = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{1,4}){3,8}\b")


def _valid_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if compact.startswith("FR"):  # FRkk + 10 digits of bank and branch + 11 of account + 2 of key
        return len(compact) == 27 and compact[4:14].isdigit()
    try:
        IBAN(compact)
    except ValueError:
        return False
    return True


def ibans(text: str) -> Iterator[Span]:
    for m in IBAN_LIKE.finditer(text):
        groups = m.group(0).split(" ")
        while groups and len("".join(groups)) >= 15:  # drop trailing words caught by the pattern (« 189 pour »)
            candidate = " ".join(groups)
            if _valid_iban(candidate):
                yield Span(m.start(), m.start() + len(candidate), "iban")
                break
            groups.pop()


# --- NIR (numéro de sécurité sociale), with spaces or dots, Corsica's 2A/2B ------------------------------------
NIR = re.compile(r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2[AB])[ .]?\d{3}[ .]?\d{3}"
                 r"(?:[ .]?\d{2})?\b", re.IGNORECASE)


# the same 13 digits (and key) grouped otherwise, as overseas ones are (« 2 68 09 971 120 034 12 »)
LOOSE_NIR = re.compile(r"(?<![\d+])[12](?:[ .]?\d){12}(?:[ .]?\d{2})?(?![\d])")


HINTED_NIR = re.compile(r"\b(?:s[ée]cu|s[ée]curit[ée] sociale|nir|carte vitale|ss)\b(?:\s*(?:n°|num[ée]ro|num|:|"
                        r"de|la)(?!\w)\.?)*\s*(?P<id>[12](?:[ .]?(?:\d|[AB])){12,15})(?!\d)", re.IGNORECASE)


def nirs(text: str) -> Iterator[Span]:
    for m in HINTED_NIR.finditer(text):  # a number said to be the NIR is masked even mistyped
        yield Span(m.start("id"), m.end("id"), "nir")
    for m in NIR.finditer(text):
        yield Span(m.start(), m.end(), "nir")
    for m in LOOSE_NIR.finditer(text):
        month = int(re.sub(r"\D", "", m.group(0))[3:5])
        if 1 <= month <= 12 or month >= 20:
            yield Span(m.start(), m.end(), "nir")


# --- phones: metropolitan and overseas; toll-free, shared-cost and short service numbers are public -------------
REGIONS = ("FR", "GP", "MQ", "GF", "RE", "YT")
PUBLIC_LINES = {PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST,
                PhoneNumberType.UAN}
LOOSE_PHONE = re.compile(r"(?<![\d+])0[1-79](?:[ .-]?\d{2}){4}(?!\d)")  # 10 digits the library may reject


def phones(text: str) -> Iterator[Span]:
    for region in REGIONS:
        for m in phonenumbers.PhoneNumberMatcher(text, region):
            if phonenumbers.number_type(m.number) not in PUBLIC_LINES:
                yield Span(m.start, m.end, "phone")
    for loose in LOOSE_PHONE.finditer(text):
        yield Span(loose.start(), loose.end(), "phone")


# --- birth dates: after « né le », « ddn », « date de naissance » (ISO too), or an old date said bare ---------
MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
DATE = (rf"(?:(?P<iso>(?:19|20)\d{{2}})\s*[-/. ]\s*{_MONTH}\s*[-/. ]\s*{_DAY}"
        rf"|{_DAY}(?:er)?\s*(?:[/.-]\s*{_MONTH}\s*[/.-]|\s+(?:{MONTHS})\s+|\s+{_MONTH}\s+)\s*(?P<year>\d{{4}}|\d{{2}}))"
        r"(?![.\d/])")
_BIRTH = r"(?:\bn[ée]e?s?\s+(?:le|en|au|:)?|\bnee?\s+le|\bnaissance\s*(?:le|du|:)?|\bddn\s*:?|\bn[ée]e?s?\s*:)"
BIRTH_HINTED = re.compile(rf"{_BIRTH}\s*(?P<date>{DATE}|(?P<only>(?:19|20)\d{{2}})\b)", re.IGNORECASE)
BARE_DATE = re.compile(rf"\b{DATE}", re.IGNORECASE)
NOT_BIRTH_BEFORE = re.compile(r"(?:\b(?:du|au|le|depuis|en|avant|après|apres|dès|des|jusqu'au|jusqu’au|"
                              r"depuis le|d'ici le)\s*)$", re.IGNORECASE)


def _year(match: re.Match[str], current_year: int) -> int:
    raw = match["iso"] or match["year"]
    year = int(raw)
    if len(raw) == 2:
        year += 1900 if year > current_year % 100 else 2000
    return year


def birthdates(text: str, current_year: int) -> Iterator[Span]:
    for m in BIRTH_HINTED.finditer(text):
        yield Span(m.start("date"), m.end("date"), "birthdate")
    for m in BARE_DATE.finditer(text):  # a full date that old is somebody's birth date, unless it dates a thing
        if _year(m, current_year) <= current_year - 12 and not NOT_BIRTH_BEFORE.search(text[max(0, m.start() - 14):
                                                                                             m.start()]):
            yield Span(m.start(), m.end(), "birthdate")


# --- identifiers after their name: CAF allocataire, passport, identity card, residence permit, tax, France Travail
_FILLER = (r"(?:\s*(?:n°|nº|no\.?|num\.?|numéro|numero|:|c'est|c est|c|est|de|du|d'|la|le|sa|son|mon|sur)"
           r"(?!\w)\.?)*\s*:?\s*")
ALLOCATAIRE = re.compile(rf"\b(?:allocataire|alloc\.?|caf|msa)(?:\s+caf)?{_FILLER}"
                         r"(?P<id>\d(?:[ ]?\d){5,12}(?:\s?[A-Za-z]\b)?)", re.IGNORECASE)
PASSPORT = re.compile(rf"\bpass(?:e)?port{_FILLER}(?P<id>(?=[A-Za-z]*\d)[A-Za-z0-9]{{7,10}})\b", re.IGNORECASE)
IDENTIFIER = re.compile(
    r"\b(?:carte\s+d['’ ]?identit[ée]|cni|titre\s+de\s+s[ée]jour|r[ée]c[ée]piss[ée]|(?:num[ée]ro|n°)\s+fiscal|"
    r"fiscal|spi|identifiant(?:\s+(?:france\s+travail|p[ôo]le\s+emploi|ft|pe|caf|ameli|impots?|impôts?))?|"
    r"num[ée]ro\s+[ée]tranger|agdref|permis(?:\s+de\s+conduire)?)"
    rf"{_FILLER}(?P<id>(?=(?:[A-Za-z]*\d){{4}})[A-Za-z0-9]{{5,16}})\b", re.IGNORECASE)


def identifiers(text: str) -> Iterator[Span]:
    for pattern, kind in ((ALLOCATAIRE, "allocataire"), (PASSPORT, "passport"), (IDENTIFIER, "identifier")):
        for m in pattern.finditer(text):
            digits = re.sub(r"\D", "", m["id"])
            if kind == "allocataire" and digits.startswith("0") and len(digits) == 10:
                continue  # a phone number after « CAF »: the phone rule decides (the CAF's own is public)
            yield Span(m.start("id"), m.end("id"), kind)
