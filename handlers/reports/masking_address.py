"""Postal addresses of people: « 5 bis chemin des Écoliers », « lieu-dit La Haute Bruyère », « bat B appt 12 ».

Only the street is masked (never the commune, never the rest of the sentence), and a venue's address is public:
« la médiathèque du 2 rue de la Mairie » stays. A number before a street word that is also an ordinary noun
(« 3 cours de formation », « 2 places ») is an address only when a name follows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from handlers.reports.masking_names import Token, tokens
from handlers.reports.masking_rules import Span
from handlers.reports.masking_words import Lexicon, fold, is_capitalised, is_stop, lexicon

STREETS = ("rue|avenue|av|ave|boulevard|bd|bld|blvd|chemin|ch|impasse|imp|allée|allee|place|pl|route|rte|quai|"
           "cours|lotissement|lot|résidence|residence|square|sentier|voie|passage|ruelle|faubourg|fbg|hameau|"
           "cité|cite|clos|domaine|montée|montee|rond-point|esplanade|promenade|parvis|traverse|ravine|morne|"
           "section|venelle|sente|mail")
# street words that are ordinary nouns too: a name (capital or article) must follow
AMBIGUOUS = {"place", "pl", "route", "quai", "cours", "passage", "voie", "domaine", "clos", "cité", "cite",
             "square", "sentier", "promenade", "esplanade", "montée", "montee", "traverse", "section", "morne",
             "mail", "ravine", "lot", "ch"}
ARTICLES = {"du", "des", "de", "la", "le", "les", "aux", "au", "l", "d", "saint", "st", "ste", "sainte"}
NUMBERED = re.compile(rf"\b\d{{1,4}}(?:\s*(?:bis|ter|quater|[abc])\b)?\s*,?\s*(?P<type>{STREETS})\b\.?",
                      re.IGNORECASE)
LIEU_DIT = re.compile(r"\blieu[- ]?dit\b\s*:?", re.IGNORECASE)
RESIDENCE = re.compile(r"\b(?:résidence|residence|cité|cite|lotissement|hameau|immeuble|quartier)\b",
                       re.IGNORECASE)
_UNIT = (r"(?:bat|bât|bâtiment|batiment|bt|imm|immeuble|esc|escalier|appt|apt|app|appart|appartement|porte|"
         r"logt|logement)(?:\b\.?|(?=\d))\s*(?:n°\s*)?(?:(?-i:[A-Z])\b|\d{1,4}[A-Za-z]?\b)")
BUILDING = re.compile(rf"\b{_UNIT}(?:\s*,?\s*{_UNIT})*", re.IGNORECASE)
FLAT = re.compile(r"\b(?:appt|apt|app|appart|appartement|porte|logt|logement)\b", re.IGNORECASE)
PERSONAL = re.compile(r"\b(?:habit\w*|vit|vivent|domicil\w*|demeur\w*|r[ée]sid(?:e|ent|ant)|h[ée]berg\w*|"
                      r"log[ée]e?s?|chez\s+(?:lui|elle|eux|sa|son|ses|leur|[A-Z]\w*)|(?:son|sa|leur|mon|ma)\s+"
                      r"adresse|adresse\s+perso\w*|^\s*adresse|envoy\w*|courrier)\b", re.IGNORECASE)
VENUE = re.compile(r"\b(?:m[ée]diath[èe]que|biblioth[èe]que|mairie|ccas|caf|cpam|msa|france\s+services|agence|"
                   r"bureau|poste|centre|espace|epn|locaux|local|salle|si[èe]ge|permanence|antenne|maison|"
                   r"mission\s+locale|association|asso|[ée]cole|coll[èe]ge|lyc[ée]e|tiers[- ]lieu|p[ôo]le|"
                   r"pr[ée]fecture|sous-pr[ée]fecture|h[ôo]tel\s+de\s+ville|gare|magasin|boutique|pharmacie|"
                   r"cabinet|structure|guichet|accueil|ehpad|foyer|club|cyber\w*|[ée]picerie|atelier\w*|"
                   r"r[ée]union|d[ée]m[ée]nag\w*|s'est\s+install\w*|emmaüs|emmaus|secours|restos?)\b",
                   re.IGNORECASE)
SENTENCE = re.compile(r"[.!?\n]")


def _street_name(text: str, toks: list[Token], i: int, lex: Lexicon, *, limit: int = 5) -> int:
    """Index past the street name starting at toks[i]: articles and words, up to a comma, a number or a verb."""
    j, last, words = i, i, 0
    while j < len(toks) and words < limit:
        if j > i and text[toks[j - 1].end:toks[j].start].strip() not in ("", "-"):
            break
        word = toks[j].text
        head = fold(word.split("'")[0].split("’")[0]) if ("'" in word or "’" in word) else ""
        if fold(word) in ARTICLES:
            j += 1
            continue
        if head in {"l", "d"} and len(word) > 2:  # « l'Église », « d'Armor »
            words, j, last = words + 1, j + 1, j + 1
            continue
        capital = is_capitalised(word)
        if is_stop(word) or (not capital and lex.is_verb(word) and words > 0):
            break
        words, j, last = words + 1, j + 1, j + 1
    return last


def _personal(text: str, start: int) -> bool:
    """Privacy first: an address is a person's unless a venue is named closer before it in the same sentence."""
    sentence_start = max((m.end() for m in SENTENCE.finditer(text, 0, start)), default=0)
    before = text[sentence_start:start]
    venue = max((m.end() for m in VENUE.finditer(before)), default=-1)
    person = max((m.end() for m in PERSONAL.finditer(before)), default=-1)
    return venue < 0 or person > venue


def _hinted(text: str, start: int) -> bool:
    sentence_start = max((m.end() for m in SENTENCE.finditer(text, 0, start)), default=0)
    return PERSONAL.search(text[sentence_start:start]) is not None


def streets(text: str, toks: list[Token], lex: Lexicon) -> Iterator[Span]:
    for m in NUMBERED.finditer(text):
        after = [k for k, t in enumerate(toks) if t.start >= m.end()]
        if not after or text[m.end():toks[after[0]].start].strip():
            continue
        first = toks[after[0]]
        if m["type"].lower() in AMBIGUOUS and not (
                is_capitalised(first.text) or fold(first.text) in ARTICLES - {"de"} or "'" in first.text
                or (fold(first.text) == "de" and after[0] + 1 < len(toks) and
                    (is_capitalised(toks[after[0] + 1].text) or fold(toks[after[0] + 1].text) in {"la", "l"}))
                or _hinted(text, m.start())):
            continue  # « 3 cours de formation »
        end = _street_name(text, toks, after[0], lex)
        if end > after[0] and _personal(text, m.start()):
            yield Span(m.start(), toks[end - 1].end, "address")


def places(text: str, toks: list[Token], lex: Lexicon) -> Iterator[Span]:
    """« lieu-dit … » always; « résidence les Glycines » next to a flat, or after « habite »."""
    for m in LIEU_DIT.finditer(text):
        after = [k for k, t in enumerate(toks) if t.start >= m.end()]
        if after:
            end = _street_name(text, toks, after[0], lex, limit=4)
            if end > after[0]:
                yield Span(m.start(), toks[end - 1].end, "address")
    units = list(BUILDING.finditer(text))
    for m in RESIDENCE.finditer(text):
        after = [k for k, t in enumerate(toks) if t.start >= m.end()]
        if not after:
            continue
        end = _street_name(text, toks, after[0], lex, limit=3)
        if end == after[0]:
            continue
        stop = toks[end - 1].end
        near_unit = any(0 <= u.start() - stop <= 3 for u in units)
        if (near_unit or _hinted(text, m.start())) and _personal(text, m.start()):
            yield Span(m.start(), stop, "address")
    for u in units:
        if (FLAT.search(u.group(0)) or _hinted(text, u.start())) and _personal(text, u.start()):
            yield Span(u.start(), u.end(), "address")


def addresses(text: str) -> Iterator[Span]:
    lex = lexicon()
    toks = tokens(text)
    yield from streets(text, toks, lex)
    yield from places(text, toks, lex)
