"""data·inclusion exports (structures and services, validated by data-inclusion-schema) as structure records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from data_inclusion.schema import v1
from pydantic import ValidationError

from storage.structure_rows import (
    Parsed,
    Record,
    Rejected,
    add,
    clip,
    first_postal,
    locate,
    phone_number,
    place_values,
)
from storage.structure_tags import di_tags
from storage.structures import pack

THEMATIQUES = {
    "numerique--acceder-a-des-services-en-ligne": "demarches",
    "difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives": "demarches",
    "numerique--maitriser-les-fondamentaux-du-numerique": "outils",
    "numerique--acceder-a-une-connexion-internet": "acces",
    "numerique--acquerir-un-equipement": "materiel",
}
RESEAUX = {"france-service": "RFS", "ccas-cias": "CCAS", "mission-locale": "ML", "communes": "MUNI",
           "espaces-publics-numeriques": "EPN", "maisons-des-solidarites": "MDS", "caf": "CAF", "mjc": "MJC",
           "la-poste": "LA_POSTE", "france-travail": "FT", "pimms-mediation": "PIMMS",
           "fabrique-de-territoire": "TIERS_LIEUX"}


def _invalid(line: int, error: ValidationError) -> Rejected:
    first = error.errors()[0]
    return Rejected(line, "invalid", f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")


@dataclass
class Offer:
    """What a structure's data·inclusion services say: our theme ids, their own codes, filter tags, conditions."""

    ids: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    bring: list[str] = field(default_factory=list)


def _di_services(items: Sequence[Any], first_line: int, parsed: Parsed) -> dict[str, Offer]:
    """What the services say, per structure (« source:id »)."""
    found: dict[str, Offer] = {}
    for number, item in enumerate(items, start=first_line):
        try:
            service = v1.Service.model_validate(item)
        except ValidationError as error:
            parsed.rejected.append(_invalid(number, error))
            continue
        offer = found.setdefault(f"{service.source}:{service.structure_id}", Offer())
        codes = sorted(t.value for t in service.thematiques or ())
        offer.ids += [THEMATIQUES[code] for code in codes if code in THEMATIQUES]
        offer.codes += codes
        offer.tags += di_tags((p.value for p in service.publics or ()), service.frais.value if service.frais else None,
                              (m.value for m in service.modes_mobilisation or ()))
        offer.bring += [service.conditions_acces.strip()] if service.conditions_acces else []
    return found


def _di_structure(item: Any, line: int, services: dict[str, Offer]) -> Record | Rejected:
    try:
        found = v1.Structure.model_validate(item)
    except ValidationError as error:
        return _invalid(line, error)
    commune = locate(found.code_insee or "", found.code_postal or "", found.commune or "")
    if commune is None:
        return Rejected(line, "unknown_commune", f"{found.code_postal or ''} {found.commune or ''}".strip())
    source_id = f"{found.source}:{found.id}"
    offer = services.get(source_id, Offer())
    place, far = place_values(commune, found.latitude, found.longitude)
    phone, phone_ok = phone_number(found.telephone or "", commune.departement)
    values = {"pivot": found.siret or "", "name": found.nom, "postal_code": found.code_postal or first_postal(commune),
              "address": found.adresse or "", "address_extra": found.complement_adresse or "",
              "phone": phone, "email": found.courriel or "", "booking": "",
              "website": str(found.site_web or ""), "hours": (found.horaires_accueil or "").strip(),
              "summary": found.description or "", "updated_on": found.date_maj,
              "kinds": pack(sorted(RESEAUX.get(r.value, "") for r in found.reseaux_porteurs or ())),
              "services": pack(sorted(set(offer.ids))), "thematiques": pack(sorted(set(offer.codes))),
              "tags": pack(sorted(set(offer.tags))), "bring": " ".join(dict.fromkeys(offer.bring))[:1000], **place}
    return Record(line, source_id, clip(values), ("far",) * far + ("bad_phone",) * (not phone_ok))


def _di_lists(data: Any) -> tuple[list[Any], list[Any]]:
    """(structures, services) of an export: {"structures": […], "services": […]} or either list alone."""
    if isinstance(data, dict):
        return list(data.get("structures") or []), list(data.get("services") or [])
    items = list(data) if isinstance(data, list) else []
    first = next((item for item in items if isinstance(item, dict)), {})
    return ([], items) if "structure_id" in first else (items, [])


def read_data_inclusion(data: Any) -> Parsed:
    """Structures with the digital services of their data·inclusion services; services alone update those
    already imported."""
    structures, services = _di_lists(data)
    parsed, seen = Parsed(unit="item"), dict[str, int]()
    themes_of = _di_services(services, len(structures) + 1, parsed)
    for number, item in enumerate(structures, start=1):
        add(parsed, _di_structure(item, number, themes_of), seen)
    parsed.services_only = {sid: pack(sorted(set(offer.ids))) for sid, offer in themes_of.items() if sid not in seen}
    return parsed
