"""What a mediator filters on (public, accessibility, languages, fees, appointment), read from the standards' fields.

One tag per fact, packed in `structure.tags` as « |acc:surdite|fee:gratuit| »: a filter is one LIKE, as for services.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

from storage.normalize import fold

# Lieux de médiation numérique v1.0.2 enumerations (folded) -> tags.
LMN_PUBLICS = {"jeunes": "pub:jeunes", "etudiants": "pub:etudiants", "familles et/ou enfants": "pub:familles",
               "seniors": "pub:seniors", "femmes": "pub:femmes"}
LMN_SUPPORT = {"surdite": "acc:surdite", "handicaps moteurs": "acc:moteur", "handicaps mentaux": "acc:mental",
               "illettrisme": "acc:illettrisme", "langues etrangeres (anglais)": "lang:en",
               "langues etrangeres (autres)": "lang:autres", "deficience visuelle": "acc:visuel"}
LMN_FEES = {"gratuit": "fee:gratuit", "gratuit sous condition": "fee:condition", "payant": "fee:payant"}
LMN_ACCESS = {"se presenter": "acces:presenter", "telephoner": "acces:telephoner", "contacter par mail": "acces:mail",
              "prendre un rdv en ligne": "acces:rdv", "envoyer un mail avec une fiche de prescription":
              "acces:prescription", "ce lieu n'accueille pas de public": "acces:aucun"}
# data·inclusion v1 (Service.publics, frais, modes_mobilisation) -> the same tags.
DI_PUBLICS = {"jeunes": "pub:jeunes", "etudiants": "pub:etudiants", "familles": "pub:familles",
              "seniors": "pub:seniors", "femmes": "pub:femmes", "personnes-en-situation-de-handicap": "pub:handicap",
              "personnes-exilees": "pub:exiles", "demandeurs-emploi": "pub:emploi"}
DI_FEES = {"gratuit": "fee:gratuit", "payant": "fee:payant"}
DI_ACCESS = {"se-presenter": "acces:presenter", "telephoner": "acces:telephoner", "envoyer-un-courriel": "acces:mail",
             "utiliser-lien-mobilisation": "acces:rdv"}
# « sur rendez-vous »: any way of booking ahead.
BY_APPOINTMENT = frozenset(("acces:telephoner", "acces:mail", "acces:rdv", "acces:prescription"))


def _clean(label: str) -> str:
    return " ".join(fold(label.replace("’", "'")).replace(" / ", "/").split())


_LMN_COLUMNS = {"publics_specifiquement_adresses": LMN_PUBLICS, "prise_en_charge_specifique": LMN_SUPPORT,
                "frais_a_charge": LMN_FEES, "modalites_acces": LMN_ACCESS}


@cache
def _folded(column: str) -> dict[str, str]:
    return {_clean(k): v for k, v in _LMN_COLUMNS[column].items()}


@lru_cache(maxsize=4096)
def _tag(column: str, value: str) -> str | None:
    """The tag of one enumeration value as files spell it (the same few values, folded once each)."""
    return _folded(column).get(_clean(value))


def lmn_tags(row: dict[str, Any], split: Any) -> list[str]:
    """Tags of one LMN row; `split` reads a multi-valued cell (« a|b » or a JSON list)."""
    found = [tag for column in _LMN_COLUMNS for value in split(row.get(column)) if (tag := _tag(column, value))]
    if str(row.get("prise_rdv") or "").startswith("http"):
        found.append("acces:rdv")
    return with_appointment(found)


def di_tags(publics: Iterable[str], fees: str | None, access: Iterable[str]) -> list[str]:
    """Tags from a data·inclusion service's enumerations (values as strings)."""
    found = [DI_PUBLICS[p] for p in publics if p in DI_PUBLICS]
    found += [DI_FEES[fees]] if fees in DI_FEES else []
    found += [DI_ACCESS[a] for a in access if a in DI_ACCESS]
    return with_appointment(found)


def with_appointment(tags: list[str]) -> list[str]:
    """Adds « rdv » (can be booked) when any booking way is known: one tag for « sur rendez-vous »."""
    return [*tags, "rdv"] if BY_APPOINTMENT & set(tags) else tags
