"""Matrix under Synapse's message rate limit: answers keep their speed while a 200-member reminder drains.

Synapse's default rc_message is a burst of 10, then 0.2 message/s; the same shape scaled 25 times (a burst of
10, then 5/s) keeps the run short. A person asks `!moi` every ASK_EVERY seconds, first with nothing else
going on (idle), then while a reminder to 200 members is queued at once; the reminder's drain time is
compared with the least the limit allows for everything the account sent meanwhile: (200 + answers - burst) / rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient
from sqlalchemy import func, select

from bench.matrix_latency import _invitation, _room, _round_trip, percentile
from bot.adapters.matrix.adapter import MatrixTransport
from bot.app import App
from bot.config import Settings
from bot.events import Address, Reply
from bot.outbox import INITIATED, Outgoing, enqueue_many
from storage.models import OutboxMessage
from tests.servers.nio_helpers import make_client, send_text, wait_for_message
from tests.servers.synapse import MESSAGE_LIMIT, SynapseServer, start_synapse

MEMBERS = 200
IDLE_SAMPLES = 20
ASK_EVERY = 1.0  # seconds between two questions of the person (someone typing, not a load generator)
GOAL_ANSWER = 2.0  # answer p95 while draining <= 2 x idle p95
GOAL_DRAIN = 1.2  # drain time <= 1.2 x the floor
WAIT = 30.0


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def _members(synapse: SynapseServer, bot_token: str, n: int) -> list[tuple[str, str]]:
    """n people, each invited by the bot's account to a direct room it opened, before relais starts (its first
    sync then learns them at once). They need not read: the limit is on the sender."""
    with ThreadPoolExecutor(4) as pool:
        users = list(await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(
            pool, synapse.register, _name("membre"), "member-password") for _ in range(n))))
    slots = asyncio.Semaphore(4)

    async def open_room(http: aiohttp.ClientSession, user_id: str) -> tuple[str, str]:
        while True:  # room creation counts against the same message limit: wait when told
            async with slots, http.post(f"{synapse.url}/_matrix/client/v3/createRoom",
                                        headers={"Authorization": f"Bearer {bot_token}"},
                                        json={"preset": "trusted_private_chat", "is_direct": True,
                                              "invite": [user_id]}) as created:
                answer = await created.json()
            if "room_id" in answer:
                return user_id, answer["room_id"]
            if answer.get("errcode") != "M_LIMIT_EXCEEDED":
                raise RuntimeError(f"createRoom refused: {answer}")
            await asyncio.sleep(answer.get("retry_after_ms", 1000) / 1000)

    async with aiohttp.ClientSession() as http:
        return list(await asyncio.gather(*(open_room(http, user_id) for user_id, _ in users)))


@contextlib.asynccontextmanager
async def _unlimited(synapse: SynapseServer, user_id: str) -> AsyncIterator[None]:
    """The bot's account without the message limit while its 200 rooms are opened (Synapse's admin API
    `override_ratelimit`, as README tells administrators to do), the limit back before anything is measured: the
    setup then takes seconds, not the 40 s that 200 room creations at 5/s would."""
    _, admin_token = synapse.register(_name("admin"), "admin-password", admin=True)
    url = f"{synapse.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit"
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, headers=headers, json={"messages_per_second": 0, "burst_count": 0}) as lifted:
            lifted.raise_for_status()
        try:
            yield
        finally:
            async with http.delete(url, headers=headers) as restored:
                restored.raise_for_status()


async def _relais_for(synapse: SynapseServer, work: Path) -> tuple[App, asyncio.Event, asyncio.Task[None], str,
                                                                   list[tuple[str, str]]]:
    """The bot's account, its members' rooms, then relais itself (SQLite), serving until the event is set."""
    bot_id, bot_token = synapse.register(_name("relais"), "bench-password")
    async with _unlimited(synapse, bot_id):
        rooms = await _members(synapse, bot_token, MEMBERS)
    settings = Settings(database_url=f"sqlite:///{work / 'relais.db'}", data_dir=work / "data",
                        matrix_homeserver=synapse.url, matrix_user=bot_id, matrix_password="bench-password",
                        rate_limit_per_minute=0, demo_content=False,  # the demo's console alert would never go
                        _env_file=None)  # type: ignore[call-arg]
    transport = MatrixTransport.from_settings(settings)
    app = App(settings, transports=[transport])
    await app.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop))
    await asyncio.wait_for(transport.ready.wait(), WAIT)
    return app, stop, task, bot_id, rooms


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
    floor = (MEMBERS + len(busy) - burst) / rate  # the answers sent meanwhile count against the same limit
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
         "goal": f"<= {GOAL_DRAIN:g}x (n + answers - burst) / rate", "ok": drain / floor <= GOAL_DRAIN},
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
            began = time.monotonic()
            app, stop, serving, bot_id, rooms = await _relais_for(synapse, work)
            print(f"  {MEMBERS} members and rooms in {time.monotonic() - began:.0f} s", file=sys.stderr)
            person_id, person_token = synapse.register(_name("camille"), "person-password")
            person = await make_client(synapse.url, person_id, person_token, work / "person")
            room_id = await _room(person, bot_id, encrypted=False)
            print(f"  ready in {time.monotonic() - began:.0f} s", file=sys.stderr)
            await send_text(person, room_id, f"!start {await _invitation(app)}")
            await wait_for_message(person, room_id, lambda e: "Bienvenue" in e.body, timeout=WAIT)
            await asyncio.sleep(MESSAGE_LIMIT["burst_count"] / MESSAGE_LIMIT["per_second"])  # a full burst again
            idle = await _asking(person, room_id, None, IDLE_SAMPLES)
            await asyncio.sleep(2.0)
            drained = asyncio.Event()
            asking = asyncio.create_task(_asking(person, room_id, drained, 0))
            drain = await _drain(app, rooms)
            drained.set()
            busy = await asking
            async with app.sessions() as session:
                refused = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.last_error.contains("rate limited")))).scalar_one()
            pace = app.outbox.limiters["matrix"].pace
            print(f"  {refused} messages met a 429; pace {pace.rate:.2f}/s, burst {pace.burst:g}", file=sys.stderr)
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
