"""Communes of France (mainland + DOM): lookup by INSEE code, postal code, typed name, free text or position."""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from statistics import median

from rapidfuzz import fuzz, process

from storage.normalize import fold, strip_article

DATA_FILE = "communes.csv.gz"
EARTH_RADIUS_KM = 6371.0088
MAX_WORDS = 6
SEARCH_CUTOFF = 60.0
RESOLVE_CUTOFF = 80.0
RESOLVE_MARGIN = 5.0
EXTRACT_CUTOFF = 88.0
EXTRACT_MIN_LETTERS = 5
BIG_COMMUNE = 20_000
# A département's extent: median ± EXTENT_MADS · MAD on each axis, never narrower than ± EXTENT_MIN degrees.
EXTENT_MADS = 10.0
EXTENT_MIN = 0.3


def _words(text: str) -> frozenset[str]:
    """A set of space-separated words."""
    return frozenset(text.split())


_POSTAL = re.compile(r"\d{5}")
_INSEE = re.compile(r"(?:\d{2}|2[AB])\d{3}", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+")
_LABEL = re.compile(r"(?P<name>.+?)[\s,(]+(?P<dep>\d{2,3}|2[AB])\)?\s*", re.IGNORECASE)
_LEADING_WORDS = _words("a au aux en sur sous de du d dans vers pres autour pour")
_LOCATIVE = _words("a au aux en sur vers pres dans")
_ARTICLES = _words("le la les l")
_NEAR = _words("pres autour proche cote loin environs")
# Never communes in free text: « réunion » is a meeting (or the island), « mars », « avril » are months.
_NEVER = _words("reunion mars avril")
# First names that are commune names (« merci Pierre »): in free text, only with the commune's article.
_FIRST_NAMES = _words("alan alex anais bernard gilles luc marie nicole pierre remy rene robert romain yves")
# Everyday words: commune names that are common words (« orange », « place », « port ») are only taken when
# written with a capital letter (not as the first word), or with their article when the commune is big
# (« le port »); no fuzzy match is tried on any of these words (« mairie » is not Mairé).
_EVERYDAY = _words(
    """
    avril bois bonne borne bornes bourg bus campagne chaise charge chemin contre cote cours croix demie don ecole
    eu faux
    fete fille fontaine grand hopital jardin lent ligne long marais marche mars mer mere mont montagne moyen
    orange parc parent pas pere place plan plans pont port pres quartier riviere roche rue salle salon simple son
    sourd table titre tour tours union us val vers vieux ville villes vue y
    accueil agence aide aides ameli association atelier ateliers banque bibliotheque box bureau caf carte ccas
    centre cias college commissariat compte connexion cpam creation cyberbase demarche demarches distance
    document documents domicile dossier ecran emploi epn espace formation formulaire france gare gendarmerie
    grise identite impots imprimante internet logement lycee maison mairie matin mediatheque midi mission msa
    numerique ordinateur passeport permanence pharmacie police pole prefecture rdv retraite semaine service
    services smartphone sociale social soir tablette telephone travail tribunal universite wifi
    lundi mardi mercredi jeudi vendredi samedi dimanche janvier fevrier juin juillet aout septembre octobre
    novembre decembre
    """
)


@dataclass(frozen=True, slots=True)
class Commune:
    """One commune as shipped in storage/reference/communes.csv.gz."""

    insee: str
    name: str
    postal_codes: tuple[str, ...]
    departement: str
    epci_siren: str
    epci_name: str
    population: int | None
    lat: float | None
    lon: float | None

    @property
    def label(self) -> str:
        """Display name with its département, « Romagné (35) »."""
        return f"{self.name} ({self.departement})"


@dataclass(frozen=True, slots=True)
class Match:
    """A search hit: score is 100 for an exact folded name or postal code, rapidfuzz ratio otherwise."""

    commune: Commune
    score: float


@dataclass(frozen=True, slots=True)
class Resolution:
    """Either one commune, or candidates to ask about (homonyms, close typos), or nothing."""

    commune: Commune | None = None
    candidates: tuple[Commune, ...] = ()
    fuzzy: bool = False
    departement: str = ""  # the text was a département number: candidates are some of its communes

    @property
    def decision(self) -> str:
        """« sure » (one commune), « ask » (candidates) or « none »."""
        return "sure" if self.commune is not None else "ask" if self.candidates else "none"

    @property
    def found(self) -> bool:
        """True when exactly one commune was decided."""
        return self.commune is not None

    @property
    def ambiguous(self) -> bool:
        """True when the user has to choose among candidates."""
        return self.commune is None and bool(self.candidates)


@dataclass(frozen=True, slots=True)
class Extent:
    """A robust bounding box (degrees) of a département's communes: one wrong sign or swapped axis falls out."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def __contains__(self, point: object) -> bool:
        """True for a (lat, lon) pair inside the box."""
        if not isinstance(point, tuple) or len(point) != 2:
            return False
        lat, lon = point
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


def _axis(values: Sequence[float]) -> tuple[float, float]:
    """median ± EXTENT_MADS · MAD of one axis, at least ± EXTENT_MIN."""
    middle = median(values)
    half = max(EXTENT_MADS * median(abs(v - middle) for v in values), EXTENT_MIN)
    return middle - half, middle + half


def extent_of(points: Sequence[tuple[float, float]]) -> Extent:
    """The robust extent of (lat, lon) points: a few wrong points (out of a département's dozens) do not move it."""
    lat_min, lat_max = _axis([lat for lat, _ in points])
    lon_min, lon_max = _axis([lon for _, lon in points])
    return Extent(lat_min, lat_max, lon_min, lon_max)


_Word = tuple[int, int, str, str]  # start, end, original text, folded text


@dataclass(frozen=True, slots=True)
class _Hit:
    """A commune name or postal code found in free text: communes, token range, whether fuzzy."""

    communes: tuple[Commune, ...]
    start: int
    stop: int
    fuzzy: bool = False


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    phi_a, phi_b = math.radians(a_lat), math.radians(b_lat)
    d_phi, d_lambda = phi_b - phi_a, math.radians(b_lon - a_lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def name_key(text: str) -> str:
    """Matching key of a name: folded, without its leading article."""
    return strip_article(fold(text))


def _accent_key(text: str) -> str:
    """Lowercase words with accents kept, without leading article (to rank « Romagné » before « Romagne »)."""
    return strip_article(" ".join(_TOKEN.findall(text.lower())))


def _float(value: str) -> float | None:
    """A float, or None for an empty cell."""
    return float(value) if value else None


def _read_rows() -> Iterator[list[str]]:
    """Data rows of the shipped communes.csv.gz (header skipped)."""
    raw = resources.files("storage.reference").joinpath(DATA_FILE).read_bytes()
    reader = csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    next(reader)
    return reader


def _commune(row: list[str]) -> Commune:
    """A Commune from one CSV row."""
    insee, name, postal, departement, siren, epci, population, lat, lon = row
    return Commune(insee, name, tuple(postal.split()), departement, siren, epci,
                   int(population) if population else None, _float(lat), _float(lon))


def _spellings(folded: str) -> set[str]:
    """A folded name as is and with its spaces squeezed out (typed « lemoule », « saintdenis »)."""
    return {folded, folded.replace(" ", "")}


def _group(pairs: Iterable[tuple[str, Commune]]) -> dict[str, list[Commune]]:
    """Communes grouped by key, in the order given (most populated first)."""
    groups: dict[str, list[Commune]] = defaultdict(list)
    for key, commune in pairs:
        groups[key].append(commune)
    return dict(groups)


class CommuneIndex:
    """In-memory index of all communes, built once (see communes())."""

    def __init__(self, communes: Iterable[Commune]) -> None:
        self._by_insee = {commune.insee: commune for commune in communes}
        ordered = sorted(self._by_insee.values(), key=lambda c: -(c.population or 0))
        self._full = {commune.insee: fold(commune.name) for commune in ordered}
        self._by_postal = _group((code, c) for c in ordered for code in c.postal_codes)
        self._by_full = _group((key, c) for c in ordered for key in _spellings(self._full[c.insee]))
        self._by_bare = _group((key, c) for c in ordered for key in _spellings(strip_article(self._full[c.insee])))
        self._choices = list(dict.fromkeys(k for full in self._full.values() for k in (full, strip_article(full))))
        self._located = [(c.lat, c.lon, c) for c in ordered if c.lat is not None and c.lon is not None]

    @classmethod
    def load(cls) -> CommuneIndex:
        """Build the index from storage/reference/communes.csv.gz."""
        return cls(_commune(row) for row in _read_rows())

    def __len__(self) -> int:
        return len(self._by_insee)

    def __iter__(self) -> Iterator[Commune]:
        return iter(self._by_insee.values())

    def folded(self) -> Iterator[tuple[Commune, str]]:
        """Each commune with its folded name (lowercase, unaccented), in INSEE order."""
        return ((commune, self._full[insee]) for insee, commune in self._by_insee.items())

    def extents(self) -> dict[str, Extent]:
        """Each département's robust extent, from its communes' positions."""
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for lat, lon, commune in self._located:
            points[commune.departement].append((lat, lon))
        return {departement: extent_of(found) for departement, found in points.items()}

    def get(self, insee: str) -> Commune | None:
        """The commune with this INSEE code (case-insensitive for Corsica's 2A/2B)."""
        return self._by_insee.get(insee.strip().upper())

    def by_postal_code(self, code: str) -> list[Commune]:
        """Communes served by a postal code, most populated first."""
        return list(self._by_postal.get(code.strip(), ()))

    def by_name(self, text: str) -> list[Commune]:
        """Communes named like the text: with the article as typed (« romagne » is not « La Romagne »), else
        without article (« moule » is « Le Moule »)."""
        return next((tier for tier in self._named(fold(text)) if tier), [])

    def _named(self, folded: str) -> tuple[list[Commune], list[Commune]]:
        """Exact matches in two tiers: the name with its article as typed, then the name without article."""
        return self._by_full.get(folded, []), self._by_bare.get(strip_article(folded), [])

    def _keyed(self, key: str) -> list[Commune]:
        """Communes of a fuzzy-match choice (a folded name with or without article)."""
        return self._by_full.get(key) or self._by_bare[key]

    def search(self, text: str, *, limit: int = 5) -> list[Match]:
        """Best communes for a typed name or postal code: exact folded matches first, then close spellings."""
        if _POSTAL.fullmatch(text.strip()):
            return [Match(commune, 100.0) for commune in self.by_postal_code(text)][:limit]
        typed, bare = self._named(fold(text))
        exact = self._ranked(typed, text) + self._ranked(bare, text)
        matches = {commune.insee: Match(commune, 100.0) for commune in exact}
        fuzzy = [Match(c, score) for key, score in self._fuzzy(text, limit) for c in self._keyed(key)]
        for match in sorted(fuzzy, key=lambda m: (-m.score, -(m.commune.population or 0))):
            matches.setdefault(match.commune.insee, match)
        return list(matches.values())[:limit]

    def _fuzzy(self, text: str, limit: int, cutoff: float = SEARCH_CUTOFF) -> list[tuple[str, float]]:
        """(key, score) of the closest name keys, comparing with and without the typed article."""
        scores: dict[str, float] = {}
        for query in dict.fromkeys((name_key(text), fold(text))):
            for key, score, _ in process.extract(query, self._choices, scorer=fuzz.ratio,
                                                 limit=limit, score_cutoff=cutoff):
                scores[key] = max(score, scores.get(key, 0.0))
        return sorted(scores.items(), key=lambda item: -item[1])

    def _ranked(self, found: Sequence[Commune], text: str, preferred: set[Commune] | None = None) -> list[Commune]:
        """Preferred communes first, then the exact accented spelling, then by population."""
        accents = _accent_key(text)
        return sorted(found, key=lambda c: (c not in (preferred or ()), _accent_key(c.name) != accents,
                                            -(c.population or 0)))

    def resolve(self, text: str, *, prefer_departements: Iterable[str] = (),
                prefer_insee: Iterable[str] = ()) -> Resolution:
        """One commune for a typed name, postal code or INSEE code, or the candidates to ask about."""
        found, fuzzy = self._exact(text), False
        if not found:
            found, fuzzy = self._close(text), True
        return self._decide(found, text, tuple(prefer_departements), tuple(prefer_insee), fuzzy)

    def _exact(self, text: str) -> list[Commune]:
        """Communes for a postal code, an INSEE code or an exact folded name."""
        stripped = text.strip()
        if _POSTAL.fullmatch(stripped) and stripped in self._by_postal:
            return self.by_postal_code(stripped)
        if _INSEE.fullmatch(stripped):
            commune = self.get(stripped)
            return [commune] if commune else []
        return self.by_name(text) or self._labelled(stripped)

    def _labelled(self, text: str) -> list[Commune]:
        """Communes for a name followed by its département, « Romagné (35) » or « saint denis 974 »."""
        match = _LABEL.fullmatch(text)
        if not match:
            return []
        return [c for c in self.by_name(match["name"]) if c.departement == match["dep"].upper()]

    def _close(self, text: str) -> list[Commune]:
        """Communes of the closest name keys when they are clearly the best (typos)."""
        scored = self._fuzzy(text, 5, RESOLVE_CUTOFF)
        if not scored:
            return []
        best = scored[0][1]
        return [c for key, score in scored if score >= best - RESOLVE_MARGIN for c in self._keyed(key)]

    def _decide(self, found: Sequence[Commune], text: str, departements: tuple[str, ...],
                insee: tuple[str, ...], fuzzy: bool) -> Resolution:
        """The single commune, the only one in the member's territory, or ranked candidates."""
        found = list(dict.fromkeys(found))
        if len(found) == 1:
            return Resolution(found[0], fuzzy=fuzzy)
        for pool in ([c for c in found if c.insee in insee], [c for c in found if c.departement in departements]):
            if len(pool) == 1:
                return Resolution(pool[0], fuzzy=fuzzy)
        preferred = {c for c in found if c.insee in insee or c.departement in departements}
        return Resolution(None, tuple(self._ranked(found, text, preferred)), fuzzy)

    def extract(self, text: str, *, prefer_departements: Iterable[str] = (),
                prefer_insee: Iterable[str] = ()) -> tuple[Resolution | None, str]:
        """Find a commune (name or postal code) in free text; return it and the text without it."""
        words = [(m.start(), m.end(), m.group(), fold(m.group())) for m in _TOKEN.finditer(text)]
        hits = self._text_hits(words, tuple(prefer_departements))
        if not hits:
            return None, text
        said = text[words[hits[-1].start][0]:words[hits[-1].stop - 1][1]]
        found = [c for c in hits[0].communes if all(c in hit.communes for hit in hits)]
        fuzzy = any(hit.fuzzy for hit in hits)
        resolution = self._decide(found, said, tuple(prefer_departements), tuple(prefer_insee), fuzzy)
        return resolution, _remove(text, words, hits)

    def _text_hits(self, words: list[_Word], near: tuple[str, ...] = ()) -> list[_Hit]:
        """A postal-code hit and/or a name hit (exact n-gram, else fuzzy on the tail); both only if they agree."""
        postal = next((_Hit(tuple(self._by_postal[w[3]]), i, i + 1) for i, w in enumerate(words)
                       if w[3] in self._by_postal), None)
        name = self._name_hit(words, near) or (None if postal else self._tail_hit(words))
        if postal and name and not set(postal.communes) & set(name.communes):
            return [postal]
        return [hit for hit in (postal, name) if hit]

    def _name_hit(self, words: list[_Word], near: tuple[str, ...] = ()) -> _Hit | None:
        """The word n-gram that is exactly a commune name: one of the person's départements first (« la borne
        de Romagné » is about Romagné, not Borne in Haute-Loire), then the longest, then the rightmost."""
        hits = []
        for size in range(min(MAX_WORDS, len(words)), 0, -1):
            for start in range(len(words) - size, -1, -1):
                found = self.by_name(" ".join(w[3] for w in words[start:start + size]))
                if found and self._plausible(words, start, size, found):
                    hits.append((any(c.departement in near for c in found), size, start, found))
        if not hits:
            return None
        _, size, start, found = max(hits, key=lambda hit: hit[:3])
        return _Hit(tuple(found), start, start + size)

    def _plausible(self, words: list[_Word], start: int, size: int, found: list[Commune]) -> bool:
        """False for everyday words and first names (« réunion », « orange », « Pierre ») not written like a
        place name."""
        folded = " ".join(w[3] for w in words[start:start + size])
        bare = strip_article(folded)
        if bare in _NEVER or (bare in _FIRST_NAMES and bare == folded):
            return False
        if bare not in _EVERYDAY and bare not in _FIRST_NAMES:
            return True
        head = words[start + size - len(bare.split())][2]
        if head[:1].isupper() and (start > 0 or bare != folded):
            return True
        return bare != folded and any(self._full[c.insee] == folded and (c.population or 0) >= BIG_COMMUNE
                                      for c in found)

    def _tail_hit(self, words: list[_Word]) -> _Hit | None:
        """A close spelling of a commune name in the last 1-3 words, capitalised after a locative word."""
        tails = [(self._tail_keys(words, size), size) for size in range(1, min(3, len(words)) + 1)]
        scored = [(keys[0][1], size, keys) for keys, size in tails if keys]
        if not scored:
            return None
        best, size, keys = max(scored, key=lambda item: (item[0], item[1]))
        found = dict.fromkeys(c for key, score in keys if score >= best - RESOLVE_MARGIN for c in self._keyed(key))
        return _Hit(tuple(found), len(words) - size, len(words), fuzzy=True)

    def _tail_keys(self, words: list[_Word], size: int) -> list[tuple[str, float]]:
        """Closest name keys for the last size words, if they may be a place name."""
        start = len(words) - size
        query = " ".join(w[3] for w in words[start:])
        if not (_looks_like_place(words, start) and _fuzzy_worthy(query)):
            return []
        return self._fuzzy(query, 5, EXTRACT_CUTOFF)

    def nearest(self, lat: float, lon: float, limit: int = 5) -> list[tuple[Commune, float]]:
        """The communes whose town hall is closest to a point, with their distance in km."""
        scale = math.cos(math.radians(lat)) ** 2
        close = heapq.nsmallest(limit * 3, self._located,
                                key=lambda p: (p[0] - lat) ** 2 + scale * _wrap(p[1] - lon) ** 2)
        ranked = [(c, distance_km(lat, lon, c_lat, c_lon)) for c_lat, c_lon, c in close]
        return sorted(ranked, key=lambda item: item[1])[:limit]


def _looks_like_place(words: list[_Word], start: int) -> bool:
    """True when the words from start are capitalised and follow « à », « au », « sur », « près de »… (« atelier
    à Romagnee », not « je vais à la ferme » nor « merci Pierre »)."""
    head = start + 1 if words[start][3] in _ARTICLES and start + 1 < len(words) else start
    before = [w[3] for w in words[max(0, start - 2):start]]
    if not before or not words[head][2][:1].isupper():
        return False
    return before[-1] in _LOCATIVE or (before[-1] in ("de", "d") and before[0] in _NEAR)


def _fuzzy_worthy(query: str) -> bool:
    """True when a folded tail is long enough and made of no everyday word, preposition or number."""
    bare = strip_article(query)
    tokens = bare.split()
    if len(bare.replace(" ", "")) < EXTRACT_MIN_LETTERS or tokens[0] in _LEADING_WORDS:
        return False
    return not any(t in _EVERYDAY or t in _NEVER or t in _FIRST_NAMES or t.isdigit() for t in tokens)


def _wrap(degrees: float) -> float:
    """A longitude difference brought into [-180, 180]."""
    return (degrees + 180.0) % 360.0 - 180.0


def _remove(text: str, words: list[_Word], hits: list[_Hit]) -> str:
    """The text without the hits' words (and prepositions just before them), whitespace tidied."""
    spans = []
    for hit in hits:
        start = hit.start
        while start > 0 and words[start - 1][3] in _LEADING_WORDS:
            start -= 1
        spans.append((words[start][0], words[hit.stop - 1][1]))
    pieces, cursor = [], 0
    for begin, end in sorted(spans):
        pieces.append(text[cursor:max(begin, cursor)])
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return " ".join(" ".join(pieces).replace(" ,", ",").split()).strip(" ,;:-'’")


@cache
def communes() -> CommuneIndex:
    """The shared index, loaded on first use."""
    return CommuneIndex.load()
