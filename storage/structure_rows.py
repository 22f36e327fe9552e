"""Rows of structure files as column values: records, rejects, and the shared cleaning of values and communes."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import Any

import phonenumbers

from storage.communes import Commune, communes, distance_km, name_key
from storage.normalize import fold
from storage.structures import pack
from storage.themes import themes

LIMITS = {"name": 200, "pivot": 40, "kinds": 200, "postal_code": 10, "commune": 200, "address": 300,
          "address_extra": 300, "phone": 40, "email": 200, "website": 500, "booking": 500, "summary": 2000}
# Services of the older v0.x files (the cartographie's first list), mapped onto the 9 of v1.
V0_SERVICES = {
    "Devenir autonome dans les démarches administratives": "demarches",
    "Réaliser des démarches administratives avec un accompagnement": "demarches",
    "Prendre en main un smartphone ou une tablette": "outils",
    "Prendre en main un ordinateur": "outils",
    "Utiliser le numérique au quotidien": "outils",
    "Approfondir ma culture numérique": "comprendre",
    "Promouvoir la citoyenneté numérique": "comprendre",
    "Favoriser mon insertion professionnelle": "emploi",
    "Créer et développer mon entreprise": "emploi",
    "Accéder à une connexion internet": "acces",
    "Accéder à du matériel": "acces",
    "Équiper en matériel informatique": "materiel",
    "Soutenir la parentalité et l'éducation avec le numérique": "parentalite",
    "Créer avec le numérique": "loisirs",
}


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row left out: where (CSV line, or item number in JSON), a reason code and the value at fault."""

    line: int
    reason: str  # missing_id, missing_name, unknown_commune, bad_latitude, bad_longitude, duplicate, bad_row…
    value: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    source_id: str
    values: dict[str, Any]
    flags: tuple[str, ...] = ()  # « far » (placed at its commune's centre), « bad_phone » (kept as typed)


@dataclass
class Parsed:
    """A file read: good records, rejected rows, and values that matched no known enumeration."""

    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    unknown_services: Counter[str] = field(default_factory=Counter)
    bad_hours: int = 0
    unit: str = "line"  # "line" for CSV, "item" for JSON
    services_only: dict[str, str] = field(default_factory=dict)  # data·inclusion services of known structures
    flags: Counter[str] = field(default_factory=Counter)  # records kept with a correction: far, bad_phone
    columns: tuple[str, ...] = ()  # a CSV file's header


def squash(text: str) -> str:
    """Curly apostrophes made straight, glued parentheses spaced, runs of spaces collapsed."""
    text = text.replace("’", "'").replace("‘", "'").replace("(", " (")
    return " ".join(text.split())


@cache
def service_ids() -> dict[str, str]:
    """Folded service labels (v1, v0.x, the short labels and ids of themes.toml) -> theme id."""
    known = {fold(label): theme_id for label, theme_id in V0_SERVICES.items()}
    for theme in themes().services:
        for spelling in (theme.label, theme.short, theme.id):
            known[fold(spelling)] = theme.id
    return known


def split_values(value: Any) -> list[str]:
    """A multi-valued cell: a JSON list, or text joined by « | » (v1) or « ; » (v0.1)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).replace(";", "|").split("|")
    return [squash(str(item)) for item in items if str(item).strip()]


@lru_cache(maxsize=4096)
def service_id(label: str) -> str | None:
    """The theme id of a service label as files spell it (the same few labels, folded once each)."""
    return service_ids().get(fold(label))


def map_services(value: Any, unknown: Counter[str]) -> str:
    ids = []
    for label in split_values(value):
        theme_id = service_id(label)
        if theme_id is None:
            unknown[label] += 1
        ids.append(theme_id or "")
    return pack(ids)


def cell_text(row: dict[str, Any], *keys: str) -> str:
    """The first non-empty of these fields, as clean text."""
    for key in keys:
        value = row.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value is not None and str(value).strip():
            return " ".join(str(value).split())
    return ""


def coordinate(value: Any, limit: float) -> float | None:
    """A latitude or longitude (comma decimals accepted); None when empty; ValueError when wrong."""
    if value is None or str(value).strip() == "":
        return None
    number = float(str(value).strip().replace(",", "."))
    if not -limit <= number <= limit:
        raise ValueError(value)
    return number


def iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def locate(insee: str, postal_code: str, name: str) -> Commune | None:
    """The commune of an address: its INSEE code, else its postal code and name, else the name near it."""
    index = communes()
    if insee and (found := index.get(insee)):
        return found
    served = index.by_postal_code(postal_code) if postal_code else []
    if len(served) == 1:
        return served[0]
    key = name_key(name)
    named = [c for c in served if name_key(c.name) == key]
    if named:
        return named[0]
    departement = postal_code[:3] if postal_code.startswith("97") else postal_code[:2]
    resolution = index.resolve(name, prefer_departements=(departement,)) if key else None
    if resolution is None:
        return None
    return resolution.commune or next((c for c in resolution.candidates if c.departement == departement), None)


def clip(values: dict[str, Any]) -> dict[str, Any]:
    for key, limit in LIMITS.items():
        if isinstance(values.get(key), str):
            values[key] = values[key][:limit]
    return values


def first_postal(commune: Commune) -> str:
    return commune.postal_codes[0] if commune.postal_codes else ""


FAR_KM = 30.0  # a place further than this from its commune's centre is misplaced…
BIG_COMMUNE_KM = 10.0  # …plus this much per square root of a million inhabitants (Paris: 44 km, Reims: 34 km)
WIDE_DEPARTEMENTS = {"973": 150.0}  # Guyane's communes span up to 18,000 km² (Maripasoula)


def allowed_km(commune: Commune) -> float:
    """How far from its commune's centre a place may be: more for big communes, far more in Guyane."""
    wide = WIDE_DEPARTEMENTS.get(commune.departement)
    return wide if wide else FAR_KM + BIG_COMMUNE_KM * math.sqrt((commune.population or 0) / 1e6)


def _centre(commune: Commune) -> tuple[float, float] | None:
    # A few communes of the reference have no usable town-hall point (missing, or NaN).
    if commune.lat is None or commune.lon is None or not math.isfinite(commune.lat + commune.lon):
        return None
    return commune.lat, commune.lon


def place_values(commune: Commune, lat: float | None, lon: float | None) -> tuple[dict[str, Any], bool]:
    """Commune columns and the position — its commune's centre when the row has none or one too far from it
    (then also True: the row was « far »)."""
    given = lat is not None and lon is not None and not (lat == 0 and lon == 0)
    centre = _centre(commune)
    far = given and centre is not None and distance_km(lat, lon, *centre) > allowed_km(commune)  # type: ignore[arg-type]
    precise = given and not far
    values = {"insee": commune.insee, "departement": commune.departement, "commune": commune.name,
              "lat": lat if precise else (centre[0] if centre else None),
              "lon": lon if precise else (centre[1] if centre else None), "precise": precise}
    return values, far


_REGIONS = {"971": "GP", "972": "MQ", "973": "GF", "974": "RE", "976": "YT"}
_NATIONAL = re.compile(r"(?:0|\+33|0033|33)([1-9]\d{8})")
# Overseas départements dial like the mainland (0590…, 0690…) under their own country codes.
_OVERSEAS_CODES = {"590": "590", "690": "590", "691": "590", "596": "596", "696": "596", "697": "596",
                   "594": "594", "694": "594", "262": "262", "263": "262", "692": "262", "693": "262",
                   "269": "262", "639": "262"}


def phone_number(raw: str, departement: str) -> tuple[str, bool]:
    """(E.164 number, True) when it is a valid phone number, as typed locally (02 99…), internationally
    (+33…) or without its « + » (33180059880); (the text as given, False) otherwise."""
    text = raw.strip()
    if not text:
        return "", True
    digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    # The common case, ten French digits, without phonenumbers' full parse (40 to 400 µs a row).
    national = _NATIONAL.fullmatch(digits)
    if national:
        number = national.group(1)
        return f"+{_OVERSEAS_CODES.get(number[:3], '33')}{number}", True
    digits = digits.replace("+", "")
    for candidate in (text, f"+{digits}"):
        try:
            number = phonenumbers.parse(candidate, _REGIONS.get(departement, "FR"))
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True
    return text, False


def add(parsed: Parsed, outcome: Record | Rejected, seen: dict[str, int]) -> None:
    """Keep a record (the first of an id), or note why not."""
    if isinstance(outcome, Rejected):
        parsed.rejected.append(outcome)
    elif outcome.source_id in seen:
        parsed.rejected.append(Rejected(outcome.line, "duplicate", f"{outcome.source_id} ({seen[outcome.source_id]})"))
    else:
        seen[outcome.source_id] = outcome.line
        parsed.records.append(outcome)
        parsed.flags.update(outcome.flags)
