"""Synthetic national data, seeded and deterministic: nothing is downloaded, the same seed gives the same bytes.

What is drawn, and how (each generator takes its own `random.Random(seed)`):

- **Places** (`place`): a commune of storage/reference/communes.csv.gz drawn with weight population^0.85 (people
  live in towns, but villages have places too), then a point around its town hall, clustered: a normal spread of
  0.3 km + 0.5 km × √(population / 10,000) (a few hundred metres in a village, a few km in Paris or Lyon).
- **data·inclusion export** (`data_inclusion`): `structures` structures and `services` services, valid against
  data-inclusion-schema v1 (what `relais import-structures` reads). Each service belongs to a structure drawn
  uniformly (so about 1.4 services a structure, a quarter of them with none, like the real export where many
  structures only list contact details). A service's thematiques are 1–3 codes drawn from the schema's
  vocabulary with the real export's tilt: about a third of the services carry a digital or « démarches » code
  (the four codes relais maps to its themes), the rest are employment, housing, family, health…
  Opening hours (`horaires_accueil`): 55 % empty, 35 % usual OpenStreetMap forms, 10 % free text that is not
  OSM syntax (« Sur rendez-vous ») — the proportions seen in the real export. Networks (`reseaux_porteurs`):
  none for half of them, else France Services, CCAS, mission locale, communes, EPN… weighted.
- **Members** (`members`): referents (90 %) and coordinators, each with a chat id, in the département of a
  place drawn like the population.
- **Reports** (`reports`): COPY rows for the report table, over two years before `now`, communes drawn like the
  population, themes with the field's proportions (démarches first), most already handled.

Sizes are arguments; `bench.partners` uses 100,000 structures and 140,000 services, `bench.reports_scale`
1,000,000 reports, `bench.reminders` 10,000 members (RELAIS_BENCH_MEMBERS to run a smaller wave).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from storage.communes import Commune, communes

SEED = 20260310
DIGITAL = ("numerique--acceder-a-des-services-en-ligne",
           "difficultes-administratives-ou-juridiques--accompagnement-aux-demarches-administratives",
           "numerique--maitriser-les-fondamentaux-du-numerique", "numerique--acceder-a-une-connexion-internet",
           "numerique--acquerir-un-equipement")
DIGITAL_WEIGHTS = (4, 5, 4, 2, 1)
OTHER = ("preparer-sa-candidature--realiser-un-cv-et-ou-une-lettre-de-motivation",
         "trouver-un-emploi--repondre-a-des-offres-demploi", "logement-hebergement--louer-un-logement",
         "famille--soutien-a-la-parentalite-et-a-leducation", "sante--acces-aux-soins",
         "mobilite--preparer-un-permis", "equipement-et-alimentation--alimentation",
         "difficultes-financieres--ameliorer-sa-gestion-budgetaire", "remobilisation--lien-social",
         "lecture-ecriture-calcul--maitriser-le-francais", "se-former--trouver-sa-formation",
         "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-aux-droits")
DIGITAL_SHARE = 0.33
HOURS = ("Mo-Fr 09:00-12:00,14:00-17:00", "Tu-Sa 10:00-12:30,14:00-18:00", "Mo,Tu,Th 09:00-12:00",
         "Mo-Fr 08:30-17:00; Sa 09:00-12:00", "We 14:00-18:00; Sa 10:00-12:00", "Mo-Fr 08:30-12:00")
FREE_HOURS = ("Sur rendez-vous", "Le mardi matin", "Permanence le 1er jeudi du mois")
NETWORKS = ("france-service", "ccas-cias", "mission-locale", "communes", "espaces-publics-numeriques",
            "maisons-des-solidarites", "caf", "la-poste", "france-travail", "conseillers-numeriques")
NETWORK_WEIGHTS = (8, 10, 6, 12, 4, 4, 2, 3, 5, 6)
PUBLICS = ("tous-publics", "seniors", "jeunes", "demandeurs-emploi", "familles", "personnes-exilees")
REPORT_THEMES = ("demarche", "equipement", "connexion", "formation", "securite", "accessibilite", "lieu",
                 "coordination")
REPORT_THEME_WEIGHTS = (40, 12, 10, 12, 8, 6, 7, 5)


@cache
def located() -> tuple[Commune, ...]:
    return tuple(c for c in communes() if c.lat is not None and c.lon is not None and math.isfinite(c.lat + c.lon))


@cache
def _cumulative() -> list[float]:
    total, out = 0.0, []
    for c in located():
        total += (c.population or 50) ** 0.85
        out.append(total)
    return out


def commune_like_people(rng: random.Random) -> Commune:
    """A commune drawn by population (flattened a little: villages have places and people too)."""
    return rng.choices(located(), cum_weights=_cumulative(), k=1)[0]


@dataclass(frozen=True, slots=True)
class Place:
    commune: Commune
    lat: float
    lon: float


def place(rng: random.Random) -> Place:
    """A point clustered around a town hall, spread by the size of the town."""
    commune = commune_like_people(rng)
    assert commune.lat is not None and commune.lon is not None
    sigma_km = 0.3 + 0.5 * math.sqrt((commune.population or 50) / 10_000)
    lat = commune.lat + rng.gauss(0, sigma_km / 111.2)
    lon = commune.lon + rng.gauss(0, sigma_km / (111.2 * max(0.05, math.cos(math.radians(commune.lat)))))
    return Place(commune, round(lat, 5), round(lon, 5))


def _hours(rng: random.Random) -> str | None:
    draw = rng.random()
    return None if draw < 0.55 else rng.choice(HOURS) if draw < 0.90 else rng.choice(FREE_HOURS)


def _structure(rng: random.Random, number: int) -> dict[str, Any]:
    where = place(rng)
    networks = [] if rng.random() < 0.5 else [rng.choices(NETWORKS, NETWORK_WEIGHTS)[0]]
    item: dict[str, Any] = {
        "source": "bench", "id": f"s{number}", "nom": f"Structure {number}", "date_maj": "2025-09-01",
        "commune": where.commune.name, "code_insee": where.commune.insee,
        "adresse": f"{number % 90 + 1} rue de la Paix",
        "code_postal": where.commune.postal_codes[0] if where.commune.postal_codes else None,
        "latitude": where.lat, "longitude": where.lon, "reseaux_porteurs": networks,
        "telephone": f"02 99 {number % 100:02d} {number // 100 % 100:02d} {number // 10_000 % 100:02d}",
    }
    hours = _hours(rng)
    if hours is not None:
        item["horaires_accueil"] = hours
    return item


def _service(rng: random.Random, number: int, structures: int) -> dict[str, Any]:
    count = rng.choices((1, 2, 3), (6, 3, 1))[0]
    codes = {rng.choices(DIGITAL, DIGITAL_WEIGHTS)[0] if rng.random() < DIGITAL_SHARE else rng.choice(OTHER)
             for _ in range(count)}
    return {"source": "bench", "id": f"v{number}", "structure_id": f"s{rng.randrange(structures)}",
            "nom": f"Service {number}", "description": "Accompagnement", "date_maj": "2025-09-01",
            "thematiques": sorted(codes), "publics": [rng.choice(PUBLICS)],
            "frais": "gratuit" if rng.random() < 0.8 else "payant"}


def data_inclusion(structures: int = 100_000, services: int = 140_000, seed: int = SEED) -> dict[str, Any]:
    """A data·inclusion export ({"structures": […], "services": […]}) of that many of each."""
    rng = random.Random(seed)
    return {"structures": [_structure(rng, n) for n in range(structures)],
            "services": [_service(rng, n, structures) for n in range(services)]}


@dataclass(frozen=True, slots=True)
class NewMember:
    number: int
    role: str
    departement: str
    chat_id: str


def members(count: int = 10_000, seed: int = SEED + 1) -> list[NewMember]:
    """Referents (90 %) and coordinators, each in the département of a place drawn like the population."""
    rng = random.Random(seed)
    return [NewMember(n, "referent" if rng.random() < 0.9 else "coordinator",
                      commune_like_people(rng).departement, f"c{n}") for n in range(count)]


def reports(count: int, now: datetime, territory_id: int, author_id: int,
            seed: int = SEED + 2) -> Iterator[tuple[Any, ...]]:
    """COPY rows (reference, author_id, territory_id, theme, commune_insee, departement, description, public,
    urgency, status, masked, created_at, updated_at, submit_key): two years of field reports."""
    rng = random.Random(seed)
    for i in range(count):
        at = now - timedelta(minutes=rng.randrange(60 * 24 * 730))
        commune = commune_like_people(rng)
        status = rng.choices(("new", "acknowledged", "resolved", "withdrawn"), (1, 3, 16, 0.2))[0]
        yield (f"S-B-{i:07d}", author_id, territory_id, rng.choices(REPORT_THEMES, REPORT_THEME_WEIGHTS)[0],
               commune.insee, commune.departement, "Démarche en ligne bloquée", rng.choice(PUBLICS),
               rng.choices(("low", "normal", "urgent"), (3, 5, 2))[0], status, "[]", at, at, f"bench-{i}")
