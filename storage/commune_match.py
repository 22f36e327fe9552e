"""A typed answer to « Dans quelle commune ? » decided with confidence: sure (take it), ask (« Vouliez-vous dire… ? »
with candidates nearest the member's territory first) or none (nothing close: say so)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from storage.communes import Commune, CommuneIndex, Resolution, communes, distance_km, name_key
from storage.normalize import fold, strip_article

MAX_CANDIDATES = 6
SURE_SCORE = 88.0  # a close spelling is taken without asking only from this rapidfuzz ratio…
SURE_MARGIN = 8.0  # … when no other name is this close to it…
SURE_MIN_LETTERS = 6  # … and the typed name is this long; shorter typos are asked about
ASK_SCORE = 82.0  # below this, nothing is close: the member is told so
ASK_SPREAD = 8.0  # candidates offered: names this close to the best one
HOME_BONUS = 4.0  # a name in the member's départements is preferred to a slightly closer one far away
FUZZY_MIN_LETTERS = 4

_DIGITS = re.compile(r"\d+")
_DEPARTEMENT = re.compile(r"(?:\d{2}|2[ab]|97[1-6])")
_SUFFIX = re.compile(r"(?P<name>.*?[^\W\d_].*?)[\s,(]+(?P<code>\d{2,3}|2[ab]|\d{5})\)?", re.IGNORECASE)
_PREFIX = re.compile(r"(?P<code>\d{5})[\s,]+(?P<name>.*[^\W\d_].*)")
_LEADING = ("la commune de", "commune de", "la ville de", "ville de", "a", "au", "aux", "sur", "en", "dans", "vers")
_TRAILING = ("svp", "stp", "merci", "please")
# Words people type at any question (greetings, answers, the services they came for): never a commune by a close
# spelling (« bonjour » is not Boncourt, « internet » not Viterne). A commune named exactly so is still found.
_CHAT_WORDS = """
    bonjour bonsoir salut coucou hello merci ok okay oui non ouais nan urgent urgence help aide aider test stop
    rien jsp sais pas moi ici partout chez retour annuler menu accueil super top genial accord dac lol mdr svp stp
    internet connexion conexion connection wifi reseau box caf cpam ameli msa pole emploi travail france mairie
    prefecture impots impot banque poste facebook whatsapp messenger gmail email mail courriel smartphone telephone
    portable tablette ordinateur imprimante scanner cle usb mot passe compte demarche demarches dossier rdv rendez vous
    demain hier aujourd lundi mardi mercredi jeudi vendredi samedi dimanche matin soir personne agee jeune senior
"""
_CHAT = frozenset(_CHAT_WORDS.split())


@dataclass(frozen=True, slots=True)
class Territory:
    """Where the member works: its communes, their départements and their centre (for ranking candidates)."""

    insee: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()
    centre: tuple[float, float] | None = None

    @classmethod
    def of(cls, codes: Iterable[str], index: CommuneIndex | None = None) -> Territory:
        """A territory from INSEE codes and/or département codes (« 35115 », « 971 »)."""
        index = index or communes()
        places = [c for code in codes if (c := index.get(code))]
        departements = {code.upper() for code in codes if _DEPARTEMENT.fullmatch(code.lower())}
        departements |= {c.departement for c in places}
        if not places:
            places = [c for c in index if c.departement in departements]
        located = [(c.lat, c.lon) for c in places if c.lat is not None and c.lon is not None]
        centre = (sum(p[0] for p in located) / len(located), sum(p[1] for p in located) / len(located)) \
            if located else None
        return cls(tuple(c.insee for c in places if c.insee in codes), tuple(sorted(departements)), centre)


def match(text: str, territory: Territory = Territory(), index: CommuneIndex | None = None) -> Resolution:
    """The decision for a typed commune: Resolution.commune when sure, candidates to ask about, or neither."""
    index = index or communes()
    return _Matcher(index, territory).decide(text)


@cache
def _departements() -> frozenset[str]:
    return frozenset(c.departement for c in communes())


@cache
def _word_prefixes() -> dict[str, tuple[str, ...]]:
    """INSEE codes by the leading words of their name key (« saint aubin » -> Saint-Aubin-du-Cormier…)."""
    found: dict[str, list[str]] = {}
    for commune, full in communes().folded():
        words = strip_article(full).split()
        for size in range(1, len(words)):
            found.setdefault(" ".join(words[:size]), []).append(commune.insee)
    return {key: tuple(codes) for key, codes in found.items()}


@cache
def _choices() -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """Fuzzy-match keys (name with and without article, squeezed too) and the INSEE codes of each."""
    keyed: dict[str, list[str]] = {}
    for commune, full in communes().folded():
        for key in {full, strip_article(full), full.replace(" ", ""), strip_article(full).replace(" ", "")}:
            keyed.setdefault(key, []).append(commune.insee)
    return list(keyed), {key: tuple(codes) for key, codes in keyed.items()}


def _clean(text: str) -> str:
    """Folded text without the words people put around a name (« à », « commune de », « svp »)."""
    folded = fold(text)
    changed = True
    while changed:
        changed = False
        for lead in _LEADING:
            if folded.startswith(lead + " ") and len(folded) > len(lead) + 1:
                folded, changed = folded[len(lead) + 1:], True
        for tail in _TRAILING:
            if folded.endswith(" " + tail):
                folded, changed = folded[:-len(tail) - 1], True
    return folded


class _Matcher:
    """One decision, with the index and the member's territory at hand."""

    def __init__(self, index: CommuneIndex, territory: Territory) -> None:
        self.index, self.territory = index, territory

    def decide(self, text: str) -> Resolution:
        raw = " ".join(text.split()).strip(" .,;:!?")
        folded = _clean(raw)
        if not folded:
            return Resolution()
        if _DIGITS.fullmatch(folded.replace(" ", "")):
            return self._code(folded.replace(" ", ""))
        if _DEPARTEMENT.fullmatch(folded) and folded.upper() in _departements():
            return self._departement(folded.upper())
        labelled = _SUFFIX.fullmatch(raw) or _PREFIX.fullmatch(raw)
        if labelled:
            return self._narrowed(_clean(labelled["name"]), labelled["code"].upper())
        return self._named(folded)

    def _code(self, code: str) -> Resolution:
        """A postal code, an INSEE code or a département number."""
        if len(code) == 5:
            found = self.index.by_postal_code(code) or ([c] if (c := self.index.get(code)) else [])
            return self._among(found, fuzzy=False)
        if code.upper() in _departements():
            return self._departement(code.upper())
        return Resolution()

    def _departement(self, code: str) -> Resolution:
        """A département alone: its communes of the member's territory first, then its largest ones."""
        own = [c for insee in self.territory.insee if (c := self.index.get(insee)) and c.departement == code]
        largest = sorted((c for c in self.index if c.departement == code), key=lambda c: -(c.population or 0))
        offered = list(dict.fromkeys([*own, *largest]))[:MAX_CANDIDATES]
        return Resolution(None, tuple(offered), departement=code)

    def _narrowed(self, name: str, code: str) -> Resolution:
        """« st aubin 35 », « Saint-Aubin (35) », « Fougères 35300 »: the name's communes in that place only."""
        if len(code) == 5:
            inside = set(self.index.by_postal_code(code))
            found = [c for c in self._exact(name) if c in inside] or [c for c in self._close(name) if c in inside]
            return self._among(found, fuzzy=False) if found else self._among(sorted(inside, key=self._rank), fuzzy=True)
        found = [c for c in self._exact(name) if c.departement == code]
        if not found:
            found = [c for c in self._prefixed(name) if c.departement == code]
            return Resolution(None, tuple(sorted(found, key=self._rank)[:MAX_CANDIDATES]))
        return self._among(found, fuzzy=False)

    def _named(self, folded: str) -> Resolution:
        """Exact names (with the territory to settle homonyms), else the names they begin, else close spellings."""
        exact = self._exact(folded)
        rivals = self._home_rivals(folded, exact)
        if exact and rivals:  # « fougere » is Fougeré (85), but a Fougères referent means Fougères
            return self._ask([*rivals, *exact], fuzzy=True)
        if len(exact) == 1:
            return Resolution(exact[0])
        if exact:
            decided = self._among(exact, fuzzy=False)
            if decided.commune is not None:
                return decided
            nearby = [c for c in self._prefixed(folded) if c.departement in self.territory.departements]
            return self._ask([*exact, *nearby], fuzzy=False)
        prefixed = self._prefixed(folded)
        if prefixed:
            return self._ask(prefixed, fuzzy=False)
        return self._fuzzy(folded)

    def _home_rivals(self, folded: str, exact: list[Commune]) -> list[Commune]:
        """Communes of the member's départements spelt almost like a name found only far away."""
        if not exact or any(c.departement in self.territory.departements for c in exact):
            return []
        _, keyed = _choices()
        return [c for key, score in self._scored(folded) if score - self._bonus(key) >= SURE_SCORE
                for code in keyed[key] if (c := self.index.get(code)) and c.departement in self.territory.departements]

    def _exact(self, folded: str) -> list[Commune]:
        """Communes named so: with the article as typed, and without it unless an article was typed."""
        typed, bare = self.index._named(folded)
        return list(dict.fromkeys(typed if typed and strip_article(folded) != folded else [*typed, *bare]))

    def _prefixed(self, folded: str) -> list[Commune]:
        """Communes whose name begins with the typed words (« saint aubin » -> Saint-Aubin-du-Cormier)."""
        codes = _word_prefixes().get(strip_article(folded), ())
        return [c for code in codes if (c := self.index.get(code))]

    def _scored(self, folded: str) -> list[tuple[str, float]]:
        """(key, score) of close spellings; a name in the member's départements gets a small bonus."""
        keys, _ = _choices()
        queries = dict.fromkeys((folded, strip_article(folded), folded.replace(" ", "")))
        scores: dict[str, float] = {}
        for query in queries:
            for key, score, _ in process.extract(query, keys, scorer=fuzz.ratio, limit=12,
                                                 score_cutoff=ASK_SCORE - HOME_BONUS):
                scores[key] = max(score + self._bonus(key), scores.get(key, 0.0))
        return sorted(scores.items(), key=lambda item: -item[1])

    def _bonus(self, key: str) -> float:
        _, keyed = _choices()
        home = any(c.departement in self.territory.departements for code in keyed[key] if (c := self.index.get(code)))
        return HOME_BONUS if home else 0.0

    def _close(self, folded: str) -> list[Commune]:
        """Communes of the close spellings, best first."""
        _, keyed = _choices()
        return list(dict.fromkeys(c for key, _ in self._scored(folded) for code in keyed[key]
                                  if (c := self.index.get(code))))

    def _fuzzy(self, folded: str) -> Resolution:
        """A close spelling: sure when long, clearly best and one commune; asked when merely close; else none."""
        letters = folded.replace(" ", "")
        if len(letters) < FUZZY_MIN_LETTERS or any(word in _CHAT for word in folded.split()):
            return Resolution(fuzzy=True)
        scored = [(key, score) for key, score in self._scored(folded) if score >= ASK_SCORE]
        if not scored:
            return Resolution(fuzzy=True)
        _, keyed = _choices()
        best_key, best = scored[0]
        rivals = {self._names(keyed[key]) for key, score in scored if score > best - SURE_MARGIN}
        if best >= SURE_SCORE and len(letters) >= SURE_MIN_LETTERS and len(rivals) == 1:
            decided = self._among([c for code in keyed[best_key] if (c := self.index.get(code))], fuzzy=True)
            if decided.commune is not None:
                return decided
        found = [c for key, score in scored if score >= best - ASK_SPREAD for code in keyed[key]
                 if (c := self.index.get(code))]
        return self._ask(found, fuzzy=True)

    def _names(self, codes: Sequence[str]) -> frozenset[str]:
        return frozenset(name_key(c.name) for code in codes if (c := self.index.get(code)))

    def _among(self, found: Sequence[Commune], *, fuzzy: bool) -> Resolution:
        """One commune, the only one in the member's communes or départements, or candidates to ask about."""
        found = list(dict.fromkeys(found))
        if len(found) == 1:
            return Resolution(found[0], fuzzy=fuzzy)
        for pool in ([c for c in found if c.insee in self.territory.insee],
                     [c for c in found if c.departement in self.territory.departements]):
            if len(pool) == 1:
                return Resolution(pool[0], fuzzy=fuzzy)
        return self._ask(found, fuzzy=fuzzy)

    def _ask(self, found: Sequence[Commune], *, fuzzy: bool) -> Resolution:
        ranked = sorted(dict.fromkeys(found), key=self._rank)
        return Resolution(None, tuple(ranked[:MAX_CANDIDATES]), fuzzy=fuzzy)

    def _rank(self, commune: Commune) -> tuple[bool, bool, float, int]:
        """The member's communes, then their départements, then nearest their territory, then the largest."""
        far = 0.0
        if self.territory.centre and commune.lat is not None and commune.lon is not None:
            far = distance_km(*self.territory.centre, commune.lat, commune.lon)
        return (commune.insee not in self.territory.insee, commune.departement not in self.territory.departements,
                far, -(commune.population or 0))
