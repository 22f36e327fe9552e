"""A reminder wave to every member of a national network, on Telegram (PTB's real HTTP stack against the fake Bot
API with Telegram's flood limits), PostgreSQL, two restarts during the wave; a referent talks to the bot meanwhile.

Size: RELAIS_BENCH_MEMBERS (default 10,000, drawn by bench/national.py: the floor is then 10,000 / 30 msg/s =
333 s; `RELAIS_BENCH_MEMBERS=1000 python -m bench reminders` for a 33 s run).

Figures: time until every member has their reminder against MEMBERS / 30 s; 429s received; members without a
reminder; members with more than one (after the two restarts, each of which runs the job again); a referent's
/aide answer p95 while the wave goes out, against the same when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import national
from bot.adapters.telegram.adapter import TelegramTransport
from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.meetings import NewMeeting, create_meeting
from storage.models import Identity, Member
from storage.territories import add_territory
from tests.fakes.telegram_api import FakeTelegram, FakeUser, Limits
from tests.servers.postgres import start_postgres

MEMBERS = int(os.environ.get("RELAIS_BENCH_MEMBERS", "10000"))
TELEGRAM_PER_S = 30  # Telegram's global limit for a bot
TOKEN = "123456:BENCH-reminders"
NOW = datetime(2026, 3, 11, 12, 59, tzinfo=UTC)
MEETING = datetime(2026, 3, 12, 13, 0, tzinfo=UTC)  # 14:00 in Paris: J-1 is due at NOW + 1 min
FIRST_CHAT = 5_000_000
REFERENT = 4_999_999
RESTARTS = 2
RESTART_GAP = 1.0  # seconds between a stop and the next start (a real process takes longer: its imports)
ASK_EVERY = 2.0  # seconds between two /aide of the referent
IDLE_ASKS = 15
GOAL_RATIO, GOAL_INTERACTIVE = 1.1, 2.0


async def run() -> list[dict[str, Any]]:
    server = start_postgres(Path(tempfile.mkdtemp(prefix="relais-bench-")))
    try:
        async with FakeTelegram() as fake:
            return await _measure(server.create_database("bench_reminders"), fake)
    finally:
        server.stop()


async def _seed(app: App) -> None:
    """MEMBERS people drawn over France (bench/national.py), each with a Telegram chat; one referent who asks
    questions; a meeting of the network tomorrow at 14:00."""
    async with app.sessions() as session, session.begin():
        network = await add_territory(session, code="national", name="Réseau national", now=NOW)
        for person in national.members(MEMBERS):
            member = Member(display_name=f"Membre {person.number}", role=person.role, territory_id=network.id,
                            created_at=NOW)
            chat = str(FIRST_CHAT + person.number)
            member.identities = [Identity(platform="telegram", user_id=chat, chat_id=chat, created_at=NOW)]
            session.add(member)
        referent = Member(display_name="Camille", role="referent", territory_id=network.id, created_at=NOW)
        referent.identities = [Identity(platform="telegram", user_id=str(REFERENT), chat_id=str(REFERENT),
                                        created_at=NOW)]
        session.add(referent)
        await create_meeting(session, NewMeeting(network.id, "Réunion trimestrielle", "Médiathèque", MEETING, None,
                                                 None, "bench"), NOW)


class RunningClock(FrozenClock):
    """Time that runs as the wall clock does from a chosen instant (retries fall due), and jumps when told."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._origin)


class Process:
    """One `relais run` as far as the wave goes: the Telegram adapter on the fake, the outbox worker."""

    def __init__(self, settings: Settings, clock: FrozenClock, fake: FakeTelegram) -> None:
        self.transport = TelegramTransport(TOKEN, api_url=fake.api_url, poll_timeout=1)
        self.app = App(settings, clock=clock, transports=[self.transport])
        self.stop = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.app.prepare()
        await self.transport.start(self.app.dispatcher.receive)
        self.worker = asyncio.create_task(self.app.outbox.run(self.stop))
        await self.app.scheduler.tick()  # the reminder job, as the scheduler runs it each minute

    async def close(self) -> None:
        """A clean stop (SIGTERM): the worker finishes its send, the adapter stops."""
        self.stop.set()
        if self.worker is not None:
            await self.worker
        await self.app.dispatcher.drain()
        await self.transport.stop()
        await self.app.close()


async def ask(fake: FakeTelegram, user: FakeUser) -> float:
    """Seconds from the referent's /aide queued at the fake to the answer received by it."""
    before = fake.sent_count(user.chat_id)
    queued = time.monotonic()
    await user.say("/aide")
    answer = await fake.wait_for(lambda: next(iter(fake.sent_to(user.chat_id)[before:]), None), 60)
    return float(answer.received_at - queued)


async def asking(fake: FakeTelegram, user: FakeUser, up: asyncio.Event, done: asyncio.Event,
                 found: list[float]) -> None:
    """The referent asks every ASK_EVERY seconds while a process is up (restarts are counted apart)."""
    while not done.is_set():
        await up.wait()
        with contextlib.suppress(TimeoutError):
            found.append(await ask(fake, user))
        await asyncio.sleep(ASK_EVERY)


def reminded(fake: FakeTelegram) -> Counter[int]:
    return Counter({FIRST_CHAT + i: fake.sent_count(FIRST_CHAT + i) for i in range(MEMBERS)})


async def _measure(url: str, fake: FakeTelegram) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), demo_seed=False,
                        _env_file=None)  # type: ignore[call-arg]
    clock = RunningClock(NOW)
    first = Process(settings, clock, fake)
    await first.app.prepare()
    await _seed(first.app)
    user = fake.user(REFERENT, "Camille")
    await first.transport.start(first.app.dispatcher.receive)
    idle = [await ask(fake, user) for _ in range(IDLE_ASKS)]
    await first.transport.stop()
    await first.app.close()

    fake.limits = Limits(global_per_s=TELEGRAM_PER_S, per_chat_per_s=1, per_group_per_min=20)
    floods_before = fake.counts["flood_429"] + fake.counts["429"]
    clock.advance(timedelta(minutes=1, seconds=5))
    floor = MEMBERS / TELEGRAM_PER_S
    up, done, busy = asyncio.Event(), asyncio.Event(), list[float]()
    asker = asyncio.create_task(asking(fake, user, up, done, busy))
    started = time.monotonic()
    restarts_at = [started + floor * (n + 1) / (RESTARTS + 1) for n in range(RESTARTS)]
    process = Process(settings, clock, fake)
    await process.start()
    up.set()
    for at in restarts_at:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        up.clear()
        await process.close()
        await asyncio.sleep(RESTART_GAP)
        clock.advance(timedelta(minutes=1))  # the next minute's tick runs the job again: nothing more may go
        process = Process(settings, clock, fake)
        await process.start()
        up.set()
    while not all(reminded(fake).values()) and time.monotonic() - started < floor * 3 + 60:
        await asyncio.sleep(0.1)  # polled: a check after every request served would cost the wave its CPU
    elapsed = time.monotonic() - started
    done.set()
    await asyncio.sleep(1.0)  # anything still queued would show as a duplicate below
    await process.close()
    asker.cancel()
    sent = reminded(fake)
    floods = fake.counts["flood_429"] + fake.counts["429"] - floods_before
    fake.limits = None
    print(f"  {MEMBERS:,} reminders in {elapsed:.1f} s (floor {floor:.1f} s), {floods} × 429, interactive p95 "
          f"{percentile(busy, 95) * 1000:.0f} ms ({len(busy)} asks) vs idle {percentile(idle, 95) * 1000:.0f} ms",
          file=sys.stderr)
    return _rows(elapsed, floor, floods, sent, idle, busy)


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] if ordered else 0.0


def _rows(elapsed: float, floor: float, floods: int, sent: Counter[int], idle: list[float],
          busy: list[float]) -> list[dict[str, Any]]:
    label = f"reminder wave, {MEMBERS:,} members on Telegram (PostgreSQL, {RESTARTS} restarts)"
    duplicates = sum(n - 1 for n in sent.values() if n > 1)
    losses = sum(1 for n in sent.values() if n == 0)
    p95_idle, p95_busy = percentile(idle, 95) * 1000, percentile(busy, 95) * 1000
    return [
        {"name": f"{label}: all delivered", "value": round(elapsed, 1), "unit": "s", "floor": round(floor, 1),
         "ratio": round(elapsed / floor, 3), "goal": f"ratio <= {GOAL_RATIO}", "ok": elapsed / floor <= GOAL_RATIO},
        {"name": f"{label}: 429 received", "value": floods, "unit": "", "floor": 0, "ratio": None, "goal": "0",
         "ok": floods == 0},
        {"name": f"{label}: lost", "value": losses, "unit": "", "floor": 0, "ratio": None, "goal": "0",
         "ok": losses == 0},
        {"name": f"{label}: duplicated", "value": duplicates, "unit": "", "floor": 0, "ratio": None, "goal": "0",
         "ok": duplicates == 0},
        {"name": f"{label}: a referent's /aide answered, p95 during the wave ({len(busy)} asks)",
         "value": round(p95_busy, 1), "unit": "ms", "floor": round(p95_idle, 1),
         "ratio": round(p95_busy / p95_idle, 2) if p95_idle else None, "goal": f"ratio <= {GOAL_INTERACTIVE} (floor: "
         "idle)", "ok": bool(p95_idle) and p95_busy / p95_idle <= GOAL_INTERACTIVE},
    ]


if __name__ == "__main__":
    for row in asyncio.run(run()):
        print(row)
