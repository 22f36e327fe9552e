"""1,000,000 reports on PostgreSQL: API stats and the weekly digest, side by side with the bare SQL aggregate."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bot.api import create_api
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from handlers.digest.synthese import build
from storage.digest_queries import Period, figures
from storage.models import Territory
from storage.territories import by_code, subtree_ids
from storage.tokens import create_token
from tests.servers.postgres import start_postgres

REPORTS = 1_000_000
NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
THEMES = ("demarche", "equipement", "connexion", "formation", "securite", "accessibilite", "lieu", "coordination")
BARE_STATS = """
select theme, to_char(timezone('UTC', created_at), 'IYYY-"W"IW') as week, count(*) from report
where territory_id = any(%(ids)s) and status <> 'withdrawn' group by 1, 2 order by 1, 2
"""
SCOPE = "territory_id = any(%(ids)s) and status <> 'withdrawn'"
PERIOD = f"{SCOPE} and created_at >= %(start)s and created_at < %(end)s"
BARE_DIGEST = (  # the digest's figures, hand-written: the floor
    f"select count(*) filter (where created_at >= %(start)s), count(*) from report where {SCOPE} "
    "and created_at >= %(prev)s and created_at < %(end)s",
    f"select theme, count(*) from report where {PERIOD} group by 1 order by 2 desc",
    f"select commune_insee, count(*) from report where {PERIOD} group by 1 order by 2 desc limit 3",
    "select reference from report where territory_id = any(%(ids)s) and status in ('new', 'acknowledged') "
    "and urgency = 'urgent' order by created_at limit 5",
    "select reference, created_at from report where territory_id = any(%(ids)s) and status = 'new' "
    "order by created_at limit 3",
    "select count(*) from member where territory_id = any(%(ids)s) and created_at >= %(start)s",
    f"select floor(extract(epoch from %(end)s - created_at) / 604800), theme, count(*) from report where {SCOPE} "
    "and created_at >= %(chart)s and created_at < %(end)s group by 1, 2",
)


def fill(dsn: str, territory_id: int, member_id: int) -> None:
    """COPY a million reports spread over two years, a third of them urgent, most already handled."""
    rng = random.Random(7)
    columns = ("reference, author_id, territory_id, theme, commune_insee, departement, description, public, urgency, "
               "status, masked, created_at, updated_at, submit_key")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY report ({columns}) FROM STDIN") as copy:
            for i in range(REPORTS):
                at = NOW - timedelta(minutes=rng.randrange(60 * 24 * 730))
                status = rng.choices(("new", "acknowledged", "resolved"), (1, 3, 16))[0]
                copy.write_row((f"S-B-{i:07d}", member_id, territory_id, rng.choice(THEMES), "35243", "35",
                                "Démarche en ligne bloquée", "seniors", rng.choice(("low", "normal", "urgent")),
                                status, "[]", at, at, f"bench-{i}"))
        cur.execute("analyze report")


async def timed(runs: int, action: Any) -> float:
    """Median of `runs` calls in milliseconds, after one warm-up call (caches, first-use imports)."""
    await action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def run() -> list[dict[str, Any]]:
    server = start_postgres(Path(tempfile.mkdtemp(prefix="relais-bench-")))
    try:
        return await _measure(server.create_database("bench"), server)
    finally:
        server.stop()


async def _measure(url: str, server: Any) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), _env_file=None)  # type: ignore[call-arg]
    app = App(settings, clock=FrozenClock(NOW))
    await app.prepare()
    async with app.sessions() as session, session.begin():
        territory = await by_code(session, "35-fougeres")
        assert territory is not None
        token = (await create_token(session, name="bench", territory_id=territory.id, scopes=("stats", "reports"),
                                    now=NOW, expires_at=None)).token
        ids = await subtree_ids(session, territory.id)
    started = time.perf_counter()
    await asyncio.to_thread(fill, url.replace("postgresql+psycopg", "postgresql"), territory.id, 2)
    print(f"  {REPORTS:,} reports copied in {time.perf_counter() - started:.0f} s")
    rows = await _api_vs_sql(app, token, ids, url) + await _digest_vs_sql(app, ids, url)
    await app.close()
    return rows


async def _api_vs_sql(app: App, token: str, ids: list[int], url: str) -> list[dict[str, Any]]:
    dsn = url.replace("postgresql+psycopg", "postgresql")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(app)), base_url="http://bench",
                               headers={"Authorization": f"Bearer {token}"})
    api = await timed(5, lambda: client.get("/api/v1/stats", params={"group_by": "theme,week",
                                                                      "territory": "35-fougeres"}))
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        bare = await timed(5, lambda: conn.execute(BARE_STATS, {"ids": ids}))
    await client.aclose()
    return [row("API /stats by theme×week, 1M reports (PostgreSQL)", api, bare, 1.5)]


async def _digest_vs_sql(app: App, ids: list[int], url: str) -> list[dict[str, Any]]:
    dsn = url.replace("postgresql+psycopg", "postgresql")
    period = Period(NOW - timedelta(days=7), NOW)

    async def digest(with_chart: bool) -> None:
        async with app.sessions() as session:
            if with_chart:
                territory = await session.get(Territory, ids[0])
                assert territory is not None
                await build(session, territory, period)
            else:
                await figures(session, ids, period)

    figures_ms = await timed(5, lambda: digest(False))
    full = await timed(3, lambda: digest(True))
    params = {"ids": ids, "start": period.start, "prev": period.previous.start, "end": period.end,
              "chart": period.end - timedelta(weeks=8)}

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async def bare_sql() -> None:
            for query in BARE_DIGEST:
                await (await conn.execute(query, params)).fetchall()

        bare = await timed(5, bare_sql)
    return [row("weekly digest figures, 1M reports (PostgreSQL)", figures_ms, bare, 1.5),
            {"name": "/synthese with its PNG chart, 1M reports (PostgreSQL)", "value": round(full, 1),
             "unit": "ms (median)", "floor": None, "ratio": None, "goal": "< 1000 ms", "ok": full < 1000}]


def row(name: str, value: float, floor: float, goal: float) -> dict[str, Any]:
    ratio = value / floor if floor else None
    return {"name": name, "value": round(value, 2), "unit": "ms (median)", "floor": round(floor, 2),
            "ratio": round(ratio, 2) if ratio else None, "goal": f"ratio <= {goal}",
            "ok": ratio is not None and ratio <= goal}
