"""Partner search at national scale: all communes, 20,000 structures, SQLite and PostgreSQL, against the floor."""

from __future__ import annotations

import asyncio
import csv
import math
import random
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.context import Context
from bot.conversation import ConversationState
from bot.events import Address
from handlers.partners.query import understand
from storage.communes import Commune, communes
from storage.members import find_member
from storage.structure_import import import_file
from storage.structures import OpenFilter, Search, find_partners, in_commune_floor
from storage.themes import themes
from tests.servers.postgres import start_postgres

STRUCTURES = 20_000
QUERIES_PER_KIND = 150
WARMUP = 60
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
GOAL_MS, GOAL_RATIO = 10.0, 3.0
SEED = 20260310
WORDS = {"demarches": "démarches", "outils": "ordinateur", "acces": "wifi", "emploi": "cv", "securite": "arnaque",
         "parentalite": "parentalité", "loisirs": "fablab", "comprendre": "réseaux sociaux",
         "materiel": "reconditionné"}
# How often a place offers each service (the national map's proportions, roughly).
SHARES = {"outils": 0.7, "demarches": 0.6, "acces": 0.5, "emploi": 0.25, "securite": 0.2, "loisirs": 0.2,
          "comprendre": 0.2, "parentalite": 0.15, "materiel": 0.1}
HOURS = ("Mo-Fr 09:00-12:00,14:00-17:00", "Tu-Sa 10:00-12:30,14:00-18:00", "Mo,Tu,Th 09:00-12:00",
         "Mo-Fr 08:30-17:00; Sa 09:00-12:00", "We 14:00-18:00; Sa 10:00-12:00", "", "", "")
KINDS = ("BIB", "CCAS", "RFS", "ASSO", "MUNI", "EPN", "ML", "TIERS_LIEUX", "CSC")
COLUMNS = ("id", "pivot", "nom", "commune", "code_postal", "code_insee", "adresse", "latitude", "longitude",
           "typologie", "telephone", "horaires", "date_maj", "services")


@dataclass(frozen=True, slots=True)
class Query:
    kind: str  # theme, typo, postal, location
    text: str = ""
    lat: float = 0.0
    lon: float = 0.0
    insee: str = ""  # for the floor: the commune the query is about
    theme: str = "outils"


def located() -> list[Commune]:
    return [c for c in communes() if c.lat is not None and c.lon is not None and math.isfinite(c.lat + c.lon)]


def weighted(rng: random.Random, places: list[Commune], k: int) -> list[Commune]:
    """Communes drawn like people live: by population (a little flattened, so villages have places too)."""
    return rng.choices(places, weights=[(c.population or 50) ** 0.85 for c in places], k=k)


def generate(path: Path, rng: random.Random) -> None:
    """A LMN v1 file of STRUCTURES places spread like the population, a few services each."""
    labels = {theme.id: theme.label for theme in themes().services}
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n, commune in enumerate(weighted(rng, located(), STRUCTURES)):
            services = [labels[s] for s, share in SHARES.items() if rng.random() < share] or [labels["outils"]]
            assert commune.lat is not None and commune.lon is not None
            writer.writerow([f"b{n}", "00000000000000", f"Lieu {n}", commune.name, commune.postal_codes[0]
                             if commune.postal_codes else "", commune.insee, f"{n % 90 + 1} rue de la Paix",
                             round(commune.lat + rng.gauss(0, 0.01), 5), round(commune.lon + rng.gauss(0, 0.014), 5),
                             rng.choice(KINDS), f"02 99 00 {n % 100:02d} {n // 100 % 100:02d}", rng.choice(HOURS),
                             "2025-09-01", "|".join(services)])


def typo(rng: random.Random, name: str) -> str:
    """One slip of the finger past the first letter: a letter dropped, doubled, swapped or replaced."""
    i = rng.randrange(1, len(name) - 1)
    slip = rng.choice(("drop", "double", "swap", "replace"))
    if slip == "drop":
        return name[:i] + name[i + 1:]
    if slip == "double":
        return name[:i] + name[i] + name[i:]
    if slip == "swap":
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return name[:i] + rng.choice("aeiou") + name[i + 1:]


def queries(rng: random.Random) -> list[Query]:
    """The mixed set: service + commune name, + mistyped name, + postal code, and shared positions."""
    picks = weighted(rng, located(), QUERIES_PER_KIND * 4)
    theme_ids = list(WORDS)
    found: list[Query] = []
    for i, commune in enumerate(picks):
        theme = rng.choice(theme_ids)
        kind = ("theme", "typo", "postal", "location")[i % 4]
        if kind == "typo" and len(commune.name) < 6:
            kind = "theme"
        text = {"theme": commune.name, "typo": typo(rng, commune.name.lower()),
                "postal": commune.postal_codes[0] if commune.postal_codes else commune.name}.get(kind, "")
        assert commune.lat is not None and commune.lon is not None
        found.append(Query(kind, f"{WORDS[theme]} {text}".strip(), commune.lat + rng.gauss(0, 0.01),
                           commune.lon + rng.gauss(0, 0.01), commune.insee, theme))
    rng.shuffle(found)
    return found


async def search(ctx: Context, query: Query) -> int:
    """What /partenaires does before formatting: read the text (commune, typos, homonyms), then one page."""
    if query.kind == "location":
        page = await find_partners(ctx.session, Search(query.lat, query.lon, theme=query.theme))
        return len(page.hits)
    asked = await understand(ctx, query.text, NOW.date())
    commune = asked.place.commune if asked.place else None
    if commune is None:
        return 0
    when = OpenFilter(ctx.tz, at=NOW) if asked.open_now else None
    page = await find_partners(ctx.session, Search(commune.lat, commune.lon, commune.insee, asked.theme, when))
    return len(page.hits)


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def latencies(app: App, mixed: list[Query]) -> dict[str, list[float]]:
    """Search and floor timed one after the other, query by query, in one open session."""
    out: dict[str, list[float]] = {"floor": [], "search": []}
    async with app.sessions() as session:
        member = await find_member(session, "console", "referent")
        ctx = Context(session, Address("bench", "b", "b"), member, ConversationState(Address("bench", "b", "b"),
                      None, NOW), FrozenClock(NOW), app.settings)
        for n, query in enumerate(mixed[:WARMUP] + mixed):
            floor = await timed(partial(in_commune_floor, session, query.insee, query.theme))
            spent = await timed(partial(search, ctx, query))
            if n >= WARMUP:
                out["floor"].append(floor)
                out["search"].append(spent)
                out.setdefault(query.kind, []).append(spent)
    return out


async def measure(url: str, path: Path, mixed: list[Query]) -> tuple[float, float, dict[str, list[float]]]:
    """(import rows/s, re-import rows/s, latencies) on one database."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    app = App(settings, clock=FrozenClock(NOW))
    await app.prepare()
    try:
        rates = []
        for _ in range(2):  # the first import adds every row, the second finds them all unchanged
            async with app.sessions() as session, session.begin():
                report = await import_file(session, path, NOW)
            rates.append(report.total / report.seconds)
        return rates[0], rates[1], await latencies(app, mixed)
    finally:
        await app.close()


async def import_memory(path: Path, directory: Path) -> float:
    """Peak Python memory (MB) while importing the file into a fresh SQLite database."""
    settings = Settings(database_url=f"sqlite:///{directory / 'memory.db'}", demo_seed=False,
                        _env_file=None)  # type: ignore[call-arg]
    app = App(settings, clock=FrozenClock(NOW))
    await app.prepare()
    tracemalloc.start()
    try:
        async with app.sessions() as session, session.begin():
            await import_file(session, path, NOW)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
        await app.close()


def latency_rows(backend: str, found: dict[str, list[float]]) -> list[dict[str, Any]]:
    rows = []
    for p in (50, 99):
        value, floor = percentile(found["search"], p), percentile(found["floor"], p)
        ratio = value / floor if floor else None
        ok = ratio is not None and ratio <= GOAL_RATIO and (p != 99 or value <= GOAL_MS)
        goal = f"<= {GOAL_MS:g} ms and <= {GOAL_RATIO:g}x floor" if p == 99 else f"<= {GOAL_RATIO:g}x floor"
        rows.append({"name": f"partners search p{p} ({backend})", "value": round(value, 3), "unit": "ms",
                     "floor": round(floor, 3), "ratio": round(ratio, 2) if ratio else None, "goal": goal, "ok": ok})
    for kind in ("theme", "typo", "postal", "location"):
        rows.append({"name": f"partners search p99 {kind} ({backend})", "value": round(percentile(found[kind], 99), 3),
                     "unit": "ms", "floor": None, "ratio": None, "goal": "", "ok": None})
    return rows


def throughput_rows(backend: str, first: float, again: float) -> list[dict[str, Any]]:
    return [{"name": f"structures import ({backend})", "value": round(first), "unit": "rows/s", "floor": None,
             "ratio": None, "goal": "", "ok": None},
            {"name": f"structures re-import, unchanged ({backend})", "value": round(again), "unit": "rows/s",
             "floor": None, "ratio": None, "goal": "", "ok": None}]


async def run() -> list[dict[str, Any]]:
    """Every figure of this benchmark as rows {name, value, unit, floor, ratio, goal, ok}."""
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-partners-") as tmp:
        directory = Path(tmp)
        path = directory / "structures.csv"
        generate(path, rng)
        mixed = queries(rng)
        server = await asyncio.to_thread(start_postgres)
        try:
            backends = (("SQLite", f"sqlite:///{directory / 'bench.db'}"),
                        ("PostgreSQL", server.create_database("relais_bench_partners")))
            for backend, url in backends:
                first, again, found = await measure(url, path, mixed)
                rows += latency_rows(backend, found) + throughput_rows(backend, first, again)
        finally:
            server.stop()
        peak = await import_memory(path, directory)
    rows.append({"name": f"structures import peak memory ({STRUCTURES} rows)", "value": round(peak, 1),
                 "unit": "MB", "floor": None, "ratio": None, "goal": "", "ok": None})
    return rows


def main() -> None:
    for row in asyncio.run(run()):
        ratio = f"  {row['ratio']}x floor {row['floor']}" if row["ratio"] is not None else ""
        status = "" if row["ok"] is None else ("  ok" if row["ok"] else "  MISSED")
        print(f"{row['name']:<48} {row['value']:>10} {row['unit']:<6}{ratio}  {row['goal']}{status}")


if __name__ == "__main__":
    main()
