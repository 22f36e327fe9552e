"""1,000,000 reports on PostgreSQL: API stats and the weekly digest, side by side with the bare SQL aggregate."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import national
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
    """COPY a million reports (bench/national.py: two years, communes drawn like the population, most handled)."""
    columns = ("reference, author_id, territory_id, theme, commune_insee, departement, description, public, urgency, "
               "status, masked, created_at, updated_at, submit_key")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY report ({columns}) FROM STDIN") as copy:
            for values in national.reports(REPORTS, NOW, territory_id, member_id):
                copy.write_row(values)
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
    rows += await _csv_vs_copy(app, token, ids, url)
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


BARE_EXPORT = """
COPY (select r.reference, r.created_at, t.code, r.theme, r.theme, r.commune_insee, r.commune_insee, r.departement,
      r.public, r.urgency, r.status, r.acknowledged_at, r.resolved_at, r.description
      from report r join territory t on t.id = r.territory_id
      where r.territory_id = any(%(ids)s) and r.status <> 'withdrawn' order by r.id)
TO STDOUT (FORMAT csv, FORCE_QUOTE *)
"""


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _peak_while(action: Any) -> tuple[float, float, Any]:
    """(seconds, peak RSS growth in MB, result) of an action, RSS sampled every 20 ms."""
    base, peak, done = rss_mb(), [rss_mb()], asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak.append(rss_mb())
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    result = await action()
    spent = time.perf_counter() - started
    done.set()
    await sampler
    return spent, max(peak) - base, result


async def _csv_vs_copy(app: App, token: str, ids: list[int], url: str) -> list[dict[str, Any]]:
    """GET /api/v1/reports.csv through uvicorn on a local port (a real streamed HTTP response, read and dropped
    chunk by chunk), against COPY … TO STDOUT of the same columns read the same way."""
    from bot.api import serve
    from tests.servers.process import free_port

    port, stop = free_port(), asyncio.Event()
    server = asyncio.create_task(serve(app, f"127.0.0.1:{port}", stop.wait()))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(100):  # until uvicorn listens
            try:
                await client.get("/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)

        async def export() -> tuple[int, int]:
            size = lines = 0
            async with client.stream("GET", "/api/v1/reports.csv") as response:
                async for chunk in response.aiter_bytes():
                    size, lines = size + len(chunk), lines + chunk.count(b"\n")
            return size, lines

        spent, grown, (size, lines) = await _peak_while(export)
    stop.set()
    await server

    async def bare() -> int:
        size = 0
        dsn = url.replace("postgresql+psycopg", "postgresql")
        async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.cursor().copy(BARE_EXPORT,
                                                                                           {"ids": ids}) as copy:
            async for chunk in copy:
                size += len(chunk)
        return size

    floor, copy_grown, copy_size = await _peak_while(bare)
    print(f"  CSV export: {lines - 1:,} rows, {size / 1e6:.0f} MB in {spent:.1f} s, RSS +{grown:.0f} MB; "
          f"COPY: {copy_size / 1e6:.0f} MB in {floor:.1f} s, RSS +{copy_grown:.0f} MB", file=sys.stderr)
    speed = floor / spent
    return [{"name": f"CSV export of {lines - 1:,} reports, streamed over HTTP (PostgreSQL)", "value": round(spent, 2),
             "unit": "s", "floor": round(floor, 2), "ratio": round(spent / floor, 2),
             "goal": "speed >= 50 % of COPY (ratio <= 2)", "ok": speed >= 0.5},
            {"name": "CSV export: peak RSS growth while streaming", "value": round(grown, 1), "unit": "MB",
             "floor": round(copy_grown, 1), "ratio": None, "goal": f"constant (< 100 MB for {size / 1e6:.0f} MB sent)",
             "ok": grown < 100}]
