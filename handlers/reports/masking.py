"""Personal data masked out of free text before it is stored: names, contact details, identifiers, addresses.

Rules find what has a shape (masking_rules, masking_address); spaCy's French model and a first-name list find
the names (masking_names). Spans are merged, then each is replaced by a short French label; the rest of the
text is kept as typed. Never log the text itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.reports.masking_address import addresses
from handlers.reports.masking_names import names
from handlers.reports.masking_rules import Span, birthdates, emails, ibans, identifiers, nirs, phones

KINDS = {
    "email": "une adresse e-mail",
    "iban": "un IBAN",
    "nir": "un numéro de sécurité sociale",
    "phone": "un numéro de téléphone",
    "birthdate": "une date de naissance",
    "allocataire": "un numéro d'allocataire",
    "passport": "un numéro de passeport",
    "identifier": "un numéro de pièce ou de dossier",
    "name": "un nom de personne",
    "address": "une adresse postale",
}
LABELS = {
    "email": "[e-mail masqué]",
    "iban": "[IBAN masqué]",
    "nir": "[n° de sécurité sociale masqué]",
    "phone": "[téléphone masqué]",
    "birthdate": "[date de naissance masquée]",
    "allocataire": "[n° d'allocataire masqué]",
    "passport": "[n° de passeport masqué]",
    "identifier": "[n° masqué]",
    "name": "[nom masqué]",
    "address": "[adresse masquée]",
}
PRIORITY = list(KINDS)  # when spans overlap, the kind listed first names the merged span
JOINABLE = re.compile(r"[\s,]*")


@dataclass(frozen=True, slots=True)
class Masked:
    text: str
    kinds: tuple[str, ...]  # what was removed, in KINDS order

    def summary(self) -> str:
        return ", ".join(KINDS[k] for k in self.kinds)


def find(text: str, *, current_year: int) -> list[Span]:
    """Every personal span of the text, merged, in order."""
    spans = [*emails(text), *ibans(text), *nirs(text), *phones(text), *birthdates(text, current_year),
             *identifiers(text)]
    taken = [(s.start, s.end) for s in spans]
    spans += [s for s in (*names(text), *addresses(text)) if not _inside(s, taken)]
    return _merge(text, [_trim(text, s) for s in spans])


def _trim(text: str, span: Span) -> Span:
    """Brackets and punctuation at the edges stay in the text (« (06 12 34 56 78) » keeps its brackets)."""
    start, end = span.start, span.end
    while start < end and not (text[start].isalnum() or text[start] == "+"):
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return Span(start, end, span.kind)


def _inside(span: Span, taken: list[tuple[int, int]]) -> bool:
    return any(start <= span.start and span.end <= end for start, end in taken)


def _merge(text: str, spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and (span.start < merged[-1].end or (
                span.kind == merged[-1].kind == "address" and JOINABLE.fullmatch(text[merged[-1].end:span.start]))):
            last = merged[-1]
            kind = min(last.kind, span.kind, key=PRIORITY.index)
            merged[-1] = Span(last.start, max(last.end, span.end), kind)
        else:
            merged.append(span)
    return merged


def mask(text: str, *, current_year: int) -> Masked:
    """The text with personal data replaced by labels like « [téléphone masqué] », and the kinds found."""
    spans = find(text, current_year=current_year)
    for span in reversed(spans):
        text = text[:span.start] + LABELS[span.kind] + text[span.end:]
    found = {s.kind for s in spans}
    return Masked(text, tuple(k for k in KINDS if k in found))
