"""The referent workload against 1, 2 and 4 `relais run` processes in webhook mode sharing one PostgreSQL (the
documented way to grow), behind the fake Bot API acting as their load balancer; CPU used by each side."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.telegram import ROUNDS, USERS, percentile, referent
from bot.clock import SystemClock
from storage.db import make_engine, make_sessionmaker
from storage.members import create_invitation
from storage.territories import by_code
from tests.fakes.relais_cluster import Cluster
from tests.fakes.telegram_api import FakeTelegram
from tests.servers.postgres import PostgresServer, start_postgres

SIZES = (1, 2, 4)
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def postgres_pids(server: PostgresServer) -> list[int]:
    """The postmaster and its backends (children), whose CPU is the database's share."""
    found = [server.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server.pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def measure(server: PostgresServer, size: int, folder: Path) -> dict[str, float]:
    name = f"relais_mp_{size}"
    url = server.create_database(name)
    async with FakeTelegram() as fake:
        cluster = Cluster(fake, url, server.dsn_for(name), folder / f"n{size}", size)
        await cluster.prepare()
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                place = await by_code(session, "35-fougeres")
                assert place is not None
                codes = [(await create_invitation(session, role="referent", territory_id=place.id,
                                                  now=SystemClock().now())).code for _ in range(USERS + size)]
            await cluster.start()
            # Warm-up: one referent per process (imports, masking model, prepared statements).
            await asyncio.gather(*(referent(fake.user(700_000 + i, f"Warm{i}"), codes[USERS + i], [])
                                   for i in range(size)))
            await cluster.wait_warm()
            workers = [w.process.pid for w in cluster.workers]
            database = postgres_pids(server)
            me = [os.getpid()]  # this process: the fake Bot API, the load balancer and the 20 referents
            cpu_before, db_before, me_before = cpu_seconds(workers), cpu_seconds(database), cpu_seconds(me)
            busy_before, all_before = machine_busy()
            latencies: list[float] = []
            started = time.monotonic()
            await asyncio.gather(*(referent(fake.user(710_000 + i, f"Ref{i}"), codes[i], latencies)
                                   for i in range(USERS)))
            elapsed = time.monotonic() - started
            busy, everything = machine_busy()
            workers_cpu = cpu_seconds(workers) - cpu_before
            database_cpu = cpu_seconds(database) - db_before
            driver_cpu = cpu_seconds(me) - me_before
        finally:
            await cluster.stop()
            await engine.dispose()
    cores = (everything - all_before) / elapsed
    return {"updates_per_s": len(latencies) / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "workers_cores": workers_cpu / elapsed, "database_cores": database_cpu / elapsed,
            "driver_cores": driver_cpu / elapsed,
            "machine_busy": (busy - busy_before) / (everything - all_before), "cores": cores}


async def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_postgres(Path(tempfile.mkdtemp(prefix="relais-bench-mp-")))
        try:
            results = {size: await measure(server, size, Path(tmp)) for size in SIZES}
        finally:
            server.stop()
    one = results[SIZES[0]]["updates_per_s"]
    label = f"referent workload ({USERS} users × {1 + ROUNDS * 11} updates), webhook, PostgreSQL"
    rows = []
    for size, figures in results.items():
        rows.append(info(f"Telegram {size} process(es), {label}: throughput", figures["updates_per_s"], "updates/s",
                         one, figures["updates_per_s"] / one))
        rows.append(info(f"  … {size} process(es): p50 latency", figures["p50_ms"], "ms", None, None))
        rows.append(info(f"  … {size} process(es): CPU in cores — relais processes (then PostgreSQL, fake Bot API "
                         "+ load balancer + users)", figures["workers_cores"],
                         f"({figures['database_cores']:.2f}, {figures['driver_cores']:.2f})", None, None))
        rows.append(info(f"  … {size} process(es): machine busy (all {figures['cores']:.0f} cores, any process)",
                         figures["machine_busy"] * 100, "%", None, None))
    return rows


def info(name: str, value: float, unit: str, floor: float | None, ratio: float | None) -> dict[str, Any]:
    """A figure printed for information (how it scales), with no goal."""
    return {"name": name, "value": round(value, 2), "unit": unit, "floor": None if floor is None else round(floor, 2),
            "ratio": None if ratio is None else round(ratio, 2), "goal": "", "ok": None}


if __name__ == "__main__":
    for result in asyncio.run(run()):
        print(result)
