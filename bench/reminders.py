"""1,000 members reminded at the same minute, on PostgreSQL: delivery time against the rate-limit floor, once each."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.ratelimit import Limits
from storage.meetings import NewMeeting, create_meeting
from storage.models import Identity, Member, OutboxMessage
from storage.territories import add_territory
from tests.chat import FakeTransport
from tests.servers.postgres import start_postgres

MEMBERS = 1000
TELEGRAM_PER_S = 30  # Telegram's global limit for a bot
SCALE = 10  # the fake platform allows 10× Telegram's rate, so `make bench` stays short; the ratio is the same
NOW = datetime(2026, 3, 11, 12, 59, tzinfo=UTC)
MEETING = datetime(2026, 3, 12, 13, 0, tzinfo=UTC)  # 14:00 in Paris: J-1 is due at NOW + 1 min


async def run() -> list[dict[str, Any]]:
    server = start_postgres(Path(tempfile.mkdtemp(prefix="relais-bench-")))
    try:
        return await _measure(server.create_database("bench"))
    finally:
        server.stop()


async def _seed(app: App) -> None:
    """A network of MEMBERS people, each on the fake platform, and one meeting tomorrow at 14:00."""
    async with app.sessions() as session, session.begin():
        network = await add_territory(session, code="bench", name="Réseau du banc d'essai", now=NOW)
        for i in range(MEMBERS):
            member = Member(display_name=f"Membre {i}", role="referent", territory_id=network.id, created_at=NOW)
            member.identities = [Identity(platform="test", user_id=f"u{i}", chat_id=f"c{i}", created_at=NOW)]
            session.add(member)
        await create_meeting(session, NewMeeting(network.id, "Réunion trimestrielle", "Médiathèque", MEETING, None,
                                                 None, "bench"), NOW)


async def _deliver(app: App, transport: FakeTransport, expected: int) -> None:
    """The outbox worker, as in production, until every message is out."""
    stop = asyncio.Event()
    worker = asyncio.create_task(app.outbox.run(stop))
    while len(transport.sent) < expected and not worker.done():
        await asyncio.sleep(0.005)
    stop.set()
    await worker


async def _measure(url: str) -> list[dict[str, Any]]:
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), demo_seed=False,
                        _env_file=None)  # type: ignore[call-arg]
    clock = FrozenClock(NOW)
    transport = FakeTransport(limits=Limits(global_per_s=TELEGRAM_PER_S * SCALE))
    app = App(settings, clock=clock, transports=[transport])
    await app.prepare()
    await _seed(app)
    clock.advance(timedelta(minutes=1, seconds=5))
    started = time.monotonic()
    await app.scheduler.tick()
    queued_in = time.monotonic() - started
    await _deliver(app, transport, MEMBERS)
    elapsed = time.monotonic() - started
    await app.scheduler.stop()
    await app.close()
    rows = await _restart_twice(settings, clock, transport)
    return _rows(elapsed, queued_in, transport, rows)


async def _restart_twice(settings: Settings, clock: FrozenClock, transport: FakeTransport) -> int:
    """Two more processes run the job and the outbox a minute apart: nothing more may go out."""
    for _ in range(2):
        app = App(settings, clock=clock, transports=[transport])
        clock.advance(timedelta(minutes=1))
        await app.scheduler.tick()
        await app.outbox.run_once()
        async with app.sessions() as session:
            rows = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
        await app.scheduler.stop()
        await app.close()
    return int(rows)


def _rows(elapsed: float, queued_in: float, transport: FakeTransport, outbox_rows: int) -> list[dict[str, Any]]:
    per_chat = Counter(d.address.chat_id for d in transport.sent)
    duplicates = sum(n - 1 for n in per_chat.values()) + max(0, outbox_rows - MEMBERS)
    losses = sum(1 for i in range(MEMBERS) if f"c{i}" not in per_chat)
    floor = MEMBERS / (TELEGRAM_PER_S * SCALE)
    label = f"reminders: {MEMBERS:,} members at one minute"
    scaled = f"(rate limit {TELEGRAM_PER_S * SCALE}/s = Telegram's {TELEGRAM_PER_S}/s ×{SCALE}, floor {MEMBERS}/" \
             f"{TELEGRAM_PER_S * SCALE} s)"
    return [
        {"name": f"{label}, all delivered {scaled}", "value": round(elapsed, 2), "unit": "s",
         "floor": round(floor, 2), "ratio": round(elapsed / floor, 2), "goal": "ratio ≤ 1.3",
         "ok": elapsed / floor <= 1.3},
        {"name": f"{label}, the job's run that queues them (bulk insert)", "value": round(queued_in, 3),
         "unit": "s", "floor": None, "ratio": None, "goal": "< 1 s", "ok": queued_in < 1.0},
        {"name": f"{label}, duplicates (incl. after 2 restarts)", "value": duplicates, "unit": "messages",
         "floor": 0, "ratio": None, "goal": "0", "ok": duplicates == 0},
        {"name": f"{label}, losses", "value": losses, "unit": "messages", "floor": 0, "ratio": None, "goal": "0",
         "ok": losses == 0},
    ]


if __name__ == "__main__":
    for row in asyncio.run(run()):
        print(row)
