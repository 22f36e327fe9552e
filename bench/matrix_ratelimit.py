"""Matrix under Synapse's message rate limit: answers keep their speed while a 200-member reminder drains.

Synapse's default rc_message is a burst of 10, then 0.2 message/s; the same shape scaled 25 times (a burst of
10, then 5/s) keeps the run short. A person asks `!moi` every ASK_EVERY seconds, first with nothing else
going on (idle), then while a reminder to 200 members is queued at once; the reminder's drain time is
compared with the least the limit allows: (200 - burst) / rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient
from sqlalchemy import func, select

from bench.matrix_latency import _invitation, _relais, _room, _round_trip, percentile
from bot.app import App
from bot.events import Address, Reply
from bot.outbox import INITIATED, Outgoing, enqueue_many
from storage.models import OutboxMessage
from tests.servers.nio_helpers import make_client, send_text, wait_for_message
from tests.servers.synapse import MESSAGE_LIMIT, SynapseServer, start_synapse

MEMBERS = 200
IDLE_SAMPLES = 20
ASK_EVERY = 1.5  # seconds between two questions of the person (someone typing, not a load generator)
GOAL_ANSWER = 2.0  # answer p95 while draining <= 2 x idle p95
GOAL_DRAIN = 1.2  # drain time <= 1.2 x the floor
WAIT = 30.0


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def _members(synapse: SynapseServer, bot_id: str, n: int) -> list[tuple[str, str]]:
    """n people, each with a direct room with the bot (created over plain HTTP: they only need to exist)."""
    with ThreadPoolExecutor(4) as pool:
        users = list(await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(
            pool, synapse.register, _name("membre"), "member-password") for _ in range(n))))
    slots = asyncio.Semaphore(8)

    async def open_room(http: aiohttp.ClientSession, user_id: str, token: str) -> tuple[str, str]:
        async with slots, http.post(f"{synapse.url}/_matrix/client/v3/createRoom",
                                    headers={"Authorization": f"Bearer {token}"},
                                    json={"preset": "trusted_private_chat", "is_direct": True,
                                          "invite": [bot_id]}) as created:
            return user_id, (await created.json())["room_id"]

    async with aiohttp.ClientSession() as http:
        return list(await asyncio.gather(*(open_room(http, user_id, token) for user_id, token in users)))


async def _bot_joined_all(app: App, rooms: list[tuple[str, str]]) -> None:
    transport = app.transports["matrix"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        client = getattr(transport, "client", None)
        known = client.rooms if client is not None else {}
        if all(room_id in known and len(known[room_id].users) == 2 for _, room_id in rooms):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the bot did not join every member's room")


async def _pending(app: App) -> int:
    async with app.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)))).scalar_one())


async def _asking(person: AsyncClient, room_id: str, until: asyncio.Event | None, count: int) -> list[float]:
    """Round trips of `!moi`, one every ASK_EVERY seconds, `count` of them or until `until` is set."""
    samples: list[float] = []
    while (until is None and len(samples) < count) or (until is not None and not until.is_set()):
        started = time.monotonic()
        samples.append(await _round_trip(person, room_id, "!moi", "Votre profil") * 1000)
        await asyncio.sleep(max(0.0, ASK_EVERY - (time.monotonic() - started)))
    return samples


async def _drain(app: App, rooms: list[tuple[str, str]]) -> float:
    """Queue the reminder to every member at once (as the scheduler does); seconds until the last is sent."""
    items = [Outgoing(f"bench:reminder:{room_id}", Address("matrix", room_id, user_id),
                      Reply("Rappel : réunion du réseau demain à 14 h, salle du conseil.", notify=True), INITIATED)
             for user_id, room_id in rooms]
    async with app.sessions() as session, session.begin():
        await enqueue_many(session, items, now=app.clock.now())
    started = time.monotonic()
    app.outbox.wake()
    while await _pending(app):
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def _rows(idle: list[float], busy: list[float], drain: float, app: App) -> list[dict[str, Any]]:
    rate, burst = MESSAGE_LIMIT["per_second"], MESSAGE_LIMIT["burst_count"]
    floor = (MEMBERS - burst) / rate
    idle_p95, busy_p95 = percentile(idle, 95), percentile(busy, 95)
    answer_ratio = busy_p95 / idle_p95 if idle_p95 else None
    pace = app.outbox.limiters["matrix"].pace
    shape = f"{rate:g}/s, burst {burst:g}"
    return [
        {"name": f"Matrix rate limit ({shape}): answer p95 while a {MEMBERS}-member reminder drains",
         "value": round(busy_p95, 1), "unit": "ms", "floor": round(idle_p95, 1),
         "ratio": round(answer_ratio, 2) if answer_ratio else None, "goal": f"<= {GOAL_ANSWER:g}x idle p95",
         "ok": answer_ratio is not None and answer_ratio <= GOAL_ANSWER},
        {"name": f"Matrix rate limit ({shape}): {MEMBERS}-member reminder drained", "value": round(drain, 1),
         "unit": "s", "floor": round(floor, 1), "ratio": round(drain / floor, 2),
         "goal": f"<= {GOAL_DRAIN:g}x (n - burst) / rate", "ok": drain / floor <= GOAL_DRAIN},
        {"name": f"Matrix rate limit: pace learned from 429s (answers during the drain: {len(busy)})",
         "value": round(pace.rate, 2), "unit": "msg/s", "floor": rate, "ratio": round(pace.rate / rate, 2),
         "goal": "", "ok": None},
    ]


async def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="relais-bench-ratelimit-") as tmp:
        work = Path(tmp)
        synapse = await asyncio.to_thread(start_synapse, work / "synapse", message_limit=MESSAGE_LIMIT)
        person: AsyncClient | None = None
        try:
            app, stop, serving, bot_id = await _relais(synapse, work)
            rooms = await _members(synapse, bot_id, MEMBERS)
            person_id, person_token = synapse.register(_name("camille"), "person-password")
            person = await make_client(synapse.url, person_id, person_token, work / "person")
            room_id = await _room(person, bot_id, encrypted=False)
            await send_text(person, room_id, f"!start {await _invitation(app)}")
            await wait_for_message(person, room_id, lambda e: "Bienvenue" in e.body, timeout=WAIT)
            await _bot_joined_all(app, rooms)
            await asyncio.sleep(MESSAGE_LIMIT["burst_count"] / MESSAGE_LIMIT["per_second"])  # a full burst again
            idle = await _asking(person, room_id, None, IDLE_SAMPLES)
            await asyncio.sleep(2.0)
            drained = asyncio.Event()
            asking = asyncio.create_task(_asking(person, room_id, drained, 0))
            drain = await _drain(app, rooms)
            drained.set()
            busy = await asking
            print(f"idle {sorted(round(x) for x in idle)}\nbusy {sorted(round(x) for x in busy)}", file=sys.stderr)
            stop.set()
            await serving
            rows = _rows(idle, busy, drain, app)
            await app.close()
            return rows
        finally:
            if person is not None:
                with contextlib.suppress(Exception):
                    await person.close()
            synapse.stop()


if __name__ == "__main__":
    for row in asyncio.run(run()):
        print(row, file=sys.stdout)
