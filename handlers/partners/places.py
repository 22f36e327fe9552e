"""Communes in partner searches: exact names at once, homonyms and typos settled near the member's home first."""

from __future__ import annotations

import re
from functools import cache

from rapidfuzz import fuzz, process

from bot.context import Context
from handlers import places
from storage.communes import Commune, Resolution, communes, name_key
from storage.normalize import fold

HOME_CUTOFF = 75.0  # a typo near home (« le mouel » in Guadeloupe) beats a closer spelling far away
TYPO_CUTOFF = 80.0
_EXACT = re.compile(r"\s*(?:\d{5}|.+?[\s,(]+(?:\d{2,3}|2[ab])\)?)\s*", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_COMPOUND = re.compile(r"[^\W_]+(?:['’-]+[^\W_]+)+")


async def in_text(ctx: Context, text: str) -> tuple[Resolution | None, str]:
    """A commune or postal code in free text; the member's territory is read only when it can matter."""
    index = communes()
    place, rest = index.extract(text)
    if place is not None and (group := broken_compound(text, rest)):
        whole = await typed(ctx, group)
        if whole.found or whole.ambiguous:
            return whole, " ".join(text.replace(group, " ").split())
    if place is not None and (place.ambiguous or place.fuzzy):
        prefs = await places.preferences(ctx)
        place, rest = index.extract(text, prefer_departements=prefs.departements, prefer_insee=prefs.insee)
    if place is not None and place.ambiguous:
        return by_departement(place, rest)
    return await places.settled_near_home(ctx, place, text), rest


def broken_compound(text: str, rest: str) -> str | None:
    """A hyphenated name the extraction cut in two (« aulnay-sous-boiis » read as Aulnay): the whole of it."""
    left = {fold(w) for w in _WORD.findall(rest)}
    for match in _COMPOUND.finditer(text):
        words = [fold(w) for w in _WORD.findall(match.group())]
        if 0 < sum(w in left for w in words) < len(words):
            return match.group()
    return None


def by_departement(place: Resolution, rest: str) -> tuple[Resolution, str]:
    """Homonyms settled by a département typed next to the name (« Saint-Denis 974 »)."""
    codes = {c.departement.lower(): c for c in place.candidates}
    words = [m for m in _WORD.finditer(rest) if m.group().lower() in codes]
    if len(words) != 1:
        return place, rest
    left = " ".join((rest[:words[0].start()] + rest[words[0].end():]).split())
    return Resolution(codes[words[0].group().lower()], fuzzy=place.fuzzy), left


async def typed(ctx: Context, text: str) -> Resolution:
    """A typed commune: exact (name, postal code, « Romagné (35) »), else a typo near home, else anywhere with
    the same first letter."""
    index = communes()
    if index.by_name(text) or _EXACT.fullmatch(text):
        found = index.resolve(text)
        return found if not found.ambiguous else await places.resolve(ctx, text)
    prefs = await places.preferences(ctx)
    home = near_home(text, prefs.departements)
    if home is not None:
        return Resolution(home, fuzzy=True)
    key = spelled_like(text)  # far from home, a slip on the first letter is not looked for (a 5 ms scan)
    if key is None:
        return Resolution(fuzzy=True)
    found = index.resolve(key, prefer_departements=prefs.departements, prefer_insee=prefs.insee)
    return Resolution(found.commune, found.candidates, fuzzy=True)


@cache
def _home_names(departement: str) -> dict[str, tuple[Commune, ...]]:
    found: dict[str, tuple[Commune, ...]] = {}
    for commune in communes():
        if commune.departement == departement:
            key = name_key(commune.name)
            found[key] = (*found.get(key, ()), commune)
    return found


def near_home(text: str, departements: tuple[str, ...]) -> Commune | None:
    """The single commune of the member's départements spelt closest to a mistyped name, if close enough."""
    names = {key: found for d in departements for key, found in _home_names(d).items()}
    best = process.extractOne(name_key(text), list(names), scorer=fuzz.ratio, score_cutoff=HOME_CUTOFF)
    return names[best[0]][0] if best and len(names[best[0]]) == 1 else None


_SAINTS = frozenset(("saint", "sainte", "saints", "saintes"))


def initial(key: str) -> str:
    """A name key's bucket: its first letter, or « saint h » for the 4,000 names that start with a saint."""
    words = key.split()
    if len(words) > 1 and words[0] in _SAINTS:
        return f"{words[0]} {words[1][:1]}"
    return key[:1]


@cache
def _by_initial() -> dict[str, list[str]]:
    """Name keys by bucket: a typo rarely hits the first letter, and each scan is a hundred times shorter."""
    groups: dict[str, set[str]] = {}
    for commune in communes():
        key = name_key(commune.name)
        groups.setdefault(initial(key), set()).add(key)
    return {bucket: sorted(keys) for bucket, keys in groups.items()}


def spelled_like(text: str) -> str | None:
    """The closest commune name key in the same bucket; None sends the caller to the full scan."""
    key = name_key(text)
    best = process.extractOne(key, _by_initial().get(initial(key), []), scorer=fuzz.ratio,
                              score_cutoff=TYPO_CUTOFF)
    return best[0] if best else None
