"""What a partner search asks for, read from free text: a service, a commune, « ouvert maintenant » or a day."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from bot.context import Context
from handlers.partners import places as partner_places
from storage.communes import Resolution
from storage.normalize import fold
from storage.themes import guess, themes

Phrase = tuple[str, ...]
_TOKEN = re.compile(r"[^\W_]+")
_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_OPEN: set[Phrase] = {("ouvert", "maintenant"), ("ouverts", "maintenant"), ("ouverte", "maintenant"),
                      ("ouvert",), ("ouverts",), ("ouverte",), ("ouvertes",), ("maintenant",),
                      ("en", "ce", "moment"), ("actuellement",), ("tout", "de", "suite")}
_TODAY: set[Phrase] = {("aujourd", "hui"), ("ce", "jour")}
_TOMORROW: set[Phrase] = {("demain",)}
# Words a mediator types for a filter (folded) -> the tag it requires (storage/structure_tags.py).
FILTER_WORDS = {
    "acc:surdite": "sourd sourds sourde sourdes malentendant malentendants malentendante surdite lsf "
                   "langue des signes|langue des signes francaise|appareille",
    "acc:moteur": "fauteuil|fauteuil roulant|pmr|mobilite reduite|handicap moteur|handicaps moteurs|accessible pmr",
    "acc:visuel": "malvoyant|malvoyants|malvoyante|aveugle|aveugles|non voyant|non voyants|deficience visuelle",
    "acc:illettrisme": "illettrisme|illettre|illettres|illettree|falc|facile a lire|facile a lire et a comprendre|"
                       "ne sait pas lire|ne lit pas|analphabete|alphabetisation",
    "acc:mental": "handicap mental|handicaps mentaux|deficience intellectuelle|handicap psychique",
    "lang:en": "anglais|anglaise|anglophone|english|en anglais",
    "lang:autres": "arabe|espagnol|portugais|roumain|russe|turc|ukrainien|allemand|italien|chinois|tamoul|"
                   "dari|pachto|pashto|farsi|persan|bengali|soninke|wolof|lingala|albanais|georgien|allophone|"
                   "allophones|langue etrangere|langues etrangeres|autre langue|traducteur|interprete",
    "fee:gratuit": "gratuit|gratuits|gratuite|gratuites|sans frais|gratuitement",
    "fee:payant": "payant|payants|payante",
    "acces:presenter": "sans rdv|sans rendez vous|sans rendezvous|sans prendre rendez vous|accueil libre|"
                       "sans rendez|permanence libre",
    "rdv": "sur rdv|sur rendez vous|avec rdv|avec rendez vous|prendre rdv|prendre rendez vous|rdv en ligne",
    "pub:jeunes": "jeune|jeunes|ados|adolescents|adolescent|16 25 ans",
    "pub:etudiants": "etudiant|etudiants|etudiante|etudiantes",
    "pub:seniors": "senior|seniors|personnes agees|personne agee|aines",
    "pub:familles": "famille|familles",
    "pub:femmes": "femme|femmes",
}


def _filter_phrases() -> dict[Phrase, str]:
    """Every filter spelling as a word tuple -> its tag; the first line's words each stand alone."""
    found: dict[Phrase, str] = {}
    for tag, spellings in FILTER_WORDS.items():
        first, *rest = spellings.split("|")
        alone = first.split() if tag == "acc:surdite" else [first]
        for spelling in [*alone, *rest]:
            found[tuple(spelling.split())] = tag
        if tag == "acc:surdite":
            found[("langue", "des", "signes")] = tag
    return found


FILTERS = _filter_phrases()
# Words around a place or a service that are neither (« aide pour la CAF à Romagné », « un lieu près de »).
_FILLER_WORDS = (
    "a au aux de des du d en pour sur dans pres autour vers le la les l un une qui avec aide aider besoin lieu lieux "
    "partenaire partenaires structure structures cherche chercher trouver ou et est sont faire fait quelqu quelque "
    "endroit me m je j ai on"
)
_FILLER = frozenset(_FILLER_WORDS.split())


@dataclass(frozen=True, slots=True)
class Asked:
    """A search as typed: the service, the place (decided, to ask about, or unknown), the opening filter."""

    theme: str | None = None
    place: Resolution | None = None
    unknown_place: str = ""
    open_now: bool = False
    day: date | None = None
    tags: tuple[str, ...] = ()  # filters (public, accessibility, language, fees, appointment)

    @property
    def empty(self) -> bool:
        return self.theme is None and self.place is None and not self.unknown_place and not self.tags


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), fold(m.group())) for m in _TOKEN.finditer(text)]


def cut(text: str, phrases: set[Phrase]) -> tuple[str, list[Phrase]]:
    """The text without the phrases found in it (longest first), and those phrases."""
    words, longest = _words(text), max((len(p) for p in phrases), default=0)
    spans: list[tuple[int, int]] = []
    found: list[Phrase] = []
    i = 0
    while i < len(words):
        size = next((n for n in range(min(longest, len(words) - i), 0, -1)
                     if tuple(w[2] for w in words[i:i + n]) in phrases), 0)
        if size:
            spans.append((words[i][0], words[i + size - 1][1]))
            found.append(tuple(w[2] for w in words[i:i + size]))
        i += size or 1
    return _without(text, spans), found


def _without(text: str, spans: Iterable[tuple[int, int]]) -> str:
    pieces, cursor = [], 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return " ".join(" ".join(pieces).split()).strip(" ,;:-'’")


@cache
def theme_phrases() -> frozenset[Phrase]:
    """Every service's everyday words and labels, as folded word tuples."""
    spellings = {s for theme in themes().services for s in (*theme.words, fold(theme.short), fold(theme.label))}
    return frozenset(tuple(s.split()) for s in spellings if s)


def read_when(text: str, today: date) -> tuple[str, bool, date | None]:
    """(text without them, « ouvert maintenant », the day asked for) — a day wins over « ouvert »."""
    days = {(name,): i for i, name in enumerate(_DAYS)}
    text, found = cut(text, {*_OPEN, *_TODAY, *_TOMORROW, *days})
    day = None
    for phrase in found:
        if phrase in days:
            day = today + timedelta(days=(days[phrase] - today.weekday()) % 7)
        elif phrase in _TODAY or phrase in _TOMORROW:
            day = today + timedelta(days=1 if phrase in _TOMORROW else 0)
    return text, day is None and any(p in _OPEN for p in found), day


def leftover(text: str) -> str:
    """What remains once service words and fillers are gone: maybe a mistyped commune."""
    text, _ = cut(text, set(theme_phrases()))
    return " ".join(w for w in text.split() if fold(w) and fold(w) not in _FILLER)


def read_filters(text: str) -> tuple[str, tuple[str, ...]]:
    """(text without them, the tags its filter words ask for, in order)."""
    text, found = cut(text, set(FILTERS))
    return text, tuple(dict.fromkeys(FILTERS[phrase] for phrase in found))


async def understand(ctx: Context, text: str, today: date) -> Asked:
    """Read a whole query: filters first, then a commune or postal code in the text, then the service."""
    text, tags = read_filters(text)
    text, open_now, day = read_when(text, today)
    place, rest = await partner_places.in_text(ctx, text) if text else (None, "")
    theme = guess(rest, themes().services) if rest else None
    unknown = ""
    if place is None and (remainder := leftover(rest)) and any(ch.isalnum() for ch in remainder):
        place = await partner_places.typed(ctx, remainder)
        if not place.found and not place.ambiguous:
            place, unknown = None, remainder
    return Asked(theme.id if theme else None, place, unknown, open_now, day, tags)
