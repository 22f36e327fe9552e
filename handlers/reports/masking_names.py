"""Names of people: after a title in any case, found by spaCy's French NER, or starting with a known first name.

Public on purpose: officials by their role (« M. le Maire », « Mme la Directrice »), and people's names that
name a place (« collège Jean Moulin », « espace Victor Hugo », « rue Victor Hugo »).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from handlers.reports.masking_rules import Span
from handlers.reports.masking_words import DOMAIN, WORD, Lexicon, core, fold, is_capitalised, is_stop, lexicon

TITLES = {"monsieur", "madame", "mademoiselle", "mme", "mmes", "mlle", "mlles", "mr", "mrs", "mm", "messieurs"}
ROLES = {"maire", "adjoint", "adjointe", "directeur", "directrice", "président", "president", "présidente",
         "presidente", "préfet", "prefet", "préfète", "prefete", "sous-préfet", "sous-préfète", "député", "depute",
         "députée", "sénateur", "senateur", "sénatrice", "conseiller", "conseillère", "conseillere", "ministre",
         "responsable", "chef", "cheffe", "docteur", "juge", "procureur", "greffier", "greffière", "commissaire",
         "principal", "principale", "proviseur", "curé", "cure", "abbé", "recteur", "rectrice", "délégué",
         "déléguée", "secrétaire", "secretaire", "gérant", "gérante", "agent", "agente", "coordinateur",
         "coordinatrice", "référent", "référente", "referent", "referente", "élu", "élue"}
PARTICLES = {"de", "du", "des", "la", "le", "les", "van", "von", "der", "den", "da", "dos", "das", "di", "del",
             "della", "ben", "bin", "ibn", "el", "al", "ould", "mac", "mc", "st", "ste", "saint", "sainte", "ter"}
# a name right after these names a place, not a person (« collège Jean Moulin », « rue Victor Hugo »)
PLACES = {"collège", "college", "lycée", "lycee", "école", "ecole", "médiathèque", "mediatheque", "bibliothèque",
          "bibliotheque", "espace", "centre", "salle", "maison", "rue", "avenue", "av", "boulevard", "bd", "place",
          "allée", "allee", "chemin", "impasse", "quai", "stade", "gymnase", "hôpital", "hopital", "clinique",
          "résidence", "residence", "cité", "cite", "quartier", "square", "parc", "pont", "fondation", "institut",
          "association", "université", "universite", "services", "ehpad", "foyer", "complexe", "halle", "musée",
          "musee", "théâtre", "theatre", "cinéma", "cinema", "piscine", "église", "eglise", "gare", "route", "cours",
          "lotissement", "groupe", "scolaire", "pôle", "pole", "campus", "hall", "tour", "lieu-dit", "promenade"}
FOLDED_PLACES = {fold(p) for p in PLACES}
NOT_FIRST_NAMES = {"france", "marine", "aurore", "victoire", "avril", "mai", "juin", "jade", "ambre", "prune",
                   "olive", "patience", "constance", "grâce", "grace", "fleur", "blanche", "colombe", "espérance",
                   "esperance", "clémence", "clemence", "désiré", "desire", "aimé", "aime", "ange", "rose",
                   "pascal", "noël", "noel", "toussaint", "dimanche", "prosper", "modeste", "sage", "auguste",
                   "pierre", "claire", "charlotte", "justice", "paris", "lourdes", "florence", "lorraine", "nancy",
                   "valence", "vienne", "orange", "sylvain", "majeur", "mineur", "gabon", "chine", "inde"}
NICKNAME = re.compile(r"\b(?:surnomm[ée]e?s?|qu['’]on appelle|on l['’]appelle|dite?|alias|appel[ée]e?)\s+"
                      r"(?P<name>[A-ZÀ-Ý][\w'’-]+)")


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str


def tokens(text: str) -> list[Token]:
    return [Token(m.start(), m.end(), m.group(0)) for m in WORD.finditer(text)]


def _joined(text: str, left: Token, right: Token) -> bool:
    """Only spaces (or a title's dot) between two words: a name does not run over a comma or a number."""
    between = text[left.end:right.start]
    return between.strip() in ("", ".") and "\n" not in between


def _name_word(tok: Token, lex: Lexicon, style: str | None, after_title: bool) -> bool:
    word = tok.text
    if is_stop(word) or fold(core(word)) in ROLES or word.lower() in TITLES or fold(word) in DOMAIN:
        return False
    capital = is_capitalised(word)
    if style is None:  # the first word: after a title almost anything but a verb; else a capital
        return capital or (after_title and not lex.is_verb(word) and len(word) > 1)
    if style == "capital":
        return capital
    return not capital and (not lex.is_word(word) or fold(word) in lex.first_names) and not lex.is_verb(word)


def name_run(text: str, toks: list[Token], i: int, lex: Lexicon, *, after_title: bool, style: str | None = None,
             limit: int = 4) -> int:
    """Index past the last word of the name starting at toks[i] (particles inside it), i when there is none."""
    j, last, words = i, i, 0
    while j < len(toks) and words < limit:
        if j > i and not _joined(text, toks[j - 1], toks[j]):
            break
        tok = toks[j]
        if tok.text.lower() in PARTICLES and j + 1 < len(toks) and (words or after_title):
            j += 1
            continue
        if not _name_word(tok, lex, style, after_title and words == 0):
            break
        style = style or ("capital" if is_capitalised(tok.text) else "lower")
        words, j, last = words + 1, j + 1, j + 1
    return last if words else i


def _is_title(toks: list[Token], i: int) -> bool:
    word = toks[i].text
    return word.lower() in TITLES or word == "M"


def titled(text: str, toks: list[Token], lex: Lexicon) -> Iterator[Span]:
    for i, tok in enumerate(toks):
        if not _is_title(toks, i) or i + 1 >= len(toks):
            continue
        if toks[i + 1].text.lower() == "et" and i + 2 < len(toks) and _is_title(toks, i + 2):
            continue  # « Monsieur et Madame Moreau »: the second title carries the name
        start = i + 1
        if not _joined(text, tok, toks[start]):
            continue
        if tok.text == "M" and not is_capitalised(toks[start].text):
            continue
        end = name_run(text, toks, start, lex, after_title=True)
        if end > start:
            yield Span(toks[start].start, toks[end - 1].end, "name")


def _after_place(text: str, toks: list[Token], i: int) -> bool:
    """One of the two words before names a place (« collège Jean Moulin », « rue Victor Hugo »)."""
    return any(fold(core(t.text)) in FOLDED_PLACES for t in toks[max(0, i - 2):i])


def recognised(text: str, toks: list[Token], lex: Lexicon) -> Iterator[Span]:
    """PER entities of the model, trimmed of titles; only those holding a capitalised word not in a place name."""
    for ent in lex.nlp(text).ents:
        if ent.label_ != "PER":
            continue
        inside = [k for k, t in enumerate(toks) if t.start >= ent.start_char and t.end <= ent.end_char]
        while inside and (_is_title(toks, inside[0]) or toks[inside[0]].text.lower() in {"et", "le", "la"}):
            inside.pop(0)
        if not inside or _after_place(text, toks, inside[0]):
            continue
        words = [toks[k] for k in inside]
        if any(fold(core(w.text)) in ROLES | DOMAIN for w in words):
            continue
        if len(words) == 1 and fold(words[0].text) in NOT_FIRST_NAMES:
            continue
        if any(is_capitalised(w.text) and not is_stop(w.text) for w in words):
            yield Span(words[0].start, words[-1].end, "name")


def first_named(text: str, toks: list[Token], lex: Lexicon) -> Iterator[Span]:
    """A known first name (« Karim », « nathalie ») and the surname that follows it (« Ti Jean » too)."""
    for i, tok in enumerate(toks):
        word = fold(tok.text)
        capital = is_capitalised(tok.text)
        known = lex.first_names if capital else lex.usual_first_names
        if (word not in known and tok.text.lower() not in known) or is_stop(tok.text) or len(word) < 3:
            continue
        if word in DOMAIN or _after_place(text, toks, i) or (not capital and (len(word) < 4 or lex.is_word(word))):
            continue  # « pierre », « rose » written small are words
        style = "capital" if capital else "lower"
        end = name_run(text, toks, i + 1, lex, after_title=False, style=style, limit=3)
        if end == i + 1 and (word in NOT_FIRST_NAMES or (lex.is_word(word) and _sentence_start(text, tok))):
            continue  # « Rose » or « Pierre » alone may be a flower or a stone
        start = i - 1 if i and capital and _nickname_before(text, toks, i - 1, lex) else i
        yield Span(toks[start].start, toks[end - 1].end if end > i + 1 else tok.end, "name")


def _nickname_before(text: str, toks: list[Token], k: int, lex: Lexicon) -> bool:
    """« Ti Jean », « Tonton Marcel »: a capitalised unknown word just before a first name belongs to it."""
    tok = toks[k]
    return (text[tok.end:toks[k + 1].start] == " " and is_capitalised(tok.text) and not is_stop(tok.text)
            and not lex.is_word(tok.text) and tok.text.lower() not in TITLES and tok.text != "M"
            and fold(core(tok.text)) not in FOLDED_PLACES | DOMAIN)


def _sentence_start(text: str, tok: Token) -> bool:
    return text[:tok.start].rstrip().endswith((".", "!", "?", ":")) or not text[:tok.start].strip()


def nicknames(text: str) -> Iterator[Span]:
    for m in NICKNAME.finditer(text):
        yield Span(m.start("name"), m.end("name"), "name")


def names(text: str) -> Iterator[Span]:
    lex = lexicon()
    toks = tokens(text)
    yield from titled(text, toks, lex)
    yield from recognised(text, toks, lex)
    yield from first_named(text, toks, lex)
    yield from nicknames(text)
