"""Round trip through Synapse (a person's message -> the bot's reply): relais beside a bare nio echo bot."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nio import AsyncClient, InviteMemberEvent, MatrixRoom, RoomMessageText

from bot.adapters.matrix.adapter import MatrixTransport
from bot.app import App
from bot.config import Settings
from storage.members import create_invitation
from storage.territories import by_code
from tests.servers.nio_helpers import create_dm, make_client, send_text, sync_until, wait_for_message
from tests.servers.synapse import SynapseServer, start_synapse

ROUND_TRIPS = 60  # per room kind and per bot, interleaved so both see the same machine load
WARMUP = 3
GOAL_RATIO = 1.5
WAIT = 30.0


class EchoBot:
    """The floor: a bare nio bot that answers every text with the same text as an m.notice (E2E on)."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        client.add_event_callback(self._on_invite, InviteMemberEvent)
        client.add_event_callback(self._on_text, RoomMessageText)
        self.task = asyncio.create_task(client.sync_forever(timeout=30_000, sync_filter=_SYNC_FILTER))

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def _on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != self.client.user_id:
            await self.client.room_send(room.room_id, "m.room.message", {"msgtype": "m.notice", "body": event.body},
                                        ignore_unverified_devices=True)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.client.close()


_SYNC_FILTER = {"presence": {"types": []}, "room": {"timeline": {"limit": 200}, "ephemeral": {"types": []}}}


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def _relais(synapse: SynapseServer, work: Path) -> tuple[App, asyncio.Event, asyncio.Task[None], str]:
    """The real application (SQLite) with the Matrix adapter, serving until the returned event is set."""
    bot_id, _ = synapse.register(_name("relais"), "bench-password")
    settings = Settings(database_url=f"sqlite:///{work / 'relais.db'}", data_dir=work / "data",
                        matrix_homeserver=synapse.url, matrix_user=bot_id, matrix_password="bench-password",
                        rate_limit_per_minute=0, _env_file=None)  # type: ignore[call-arg]
    transport = MatrixTransport.from_settings(settings)
    app = App(settings, transports=[transport])
    await app.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop))
    await asyncio.wait_for(transport.ready.wait(), WAIT)
    return app, stop, task, bot_id


async def _invitation(app: App) -> str:
    async with app.sessions() as session, session.begin():
        territory = await by_code(session, "35-fougeres")
        assert territory is not None
        return (await create_invitation(session, role="referent", territory_id=territory.id,
                                        now=app.clock.now())).code


async def _room(person: AsyncClient, bot_id: str, encrypted: bool) -> str:
    room_id = await create_dm(person, bot_id, encrypted=encrypted)

    def bot_joined() -> bool:
        room = person.rooms.get(room_id)
        return room is not None and bot_id in room.users and bot_id not in room.invited_users

    await sync_until(person, bot_joined, WAIT, what="bot joined")
    return room_id


async def _round_trip(person: AsyncClient, room_id: str, text: str, expected: str) -> float:
    started = time.perf_counter()
    await send_text(person, room_id, text, keys_timeout=WAIT)
    await wait_for_message(person, room_id, lambda e: expected in e.body, timeout=WAIT)
    return time.perf_counter() - started


def percentile(values: list[float], percent: float) -> float:
    """Nearest rank: a latency some message really saw."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] if ordered else 0.0


async def _measure(person: AsyncClient, echo_room: str, relais_room: str, n: int) -> tuple[list[float], list[float]]:
    echo: list[float] = []
    relais: list[float] = []
    for i in range(WARMUP + n):
        echo_ms = await _round_trip(person, echo_room, f"ping {i}", f"ping {i}") * 1000
        relais_ms = await _round_trip(person, relais_room, "!moi", "Votre profil") * 1000
        if i >= WARMUP:
            echo.append(echo_ms)
            relais.append(relais_ms)
    return echo, relais


def _rows(kind: str, echo: list[float], relais: list[float]) -> list[dict[str, Any]]:
    rows = []
    for percent in (50, 95):
        value, floor = percentile(relais, percent), percentile(echo, percent)
        ratio = value / floor if floor else None
        rows.append({"name": f"matrix round trip p{percent} ({kind} room)", "value": round(value, 1), "unit": "ms",
                     "floor": round(floor, 1), "ratio": round(ratio, 2) if ratio else None,
                     "goal": f"<= {GOAL_RATIO}x echo", "ok": ratio is not None and ratio <= GOAL_RATIO})
    return rows


async def run(round_trips: int = ROUND_TRIPS) -> list[dict[str, Any]]:
    """Start a Synapse, the echo bot, relais and one person; measure plain then encrypted DMs."""
    with tempfile.TemporaryDirectory(prefix="relais-bench-matrix-") as tmp:
        work = Path(tmp)
        synapse = await asyncio.to_thread(start_synapse, work / "synapse")
        clients: list[AsyncClient] = []
        try:
            echo_id, echo_token = synapse.register(_name("echo"), "echo-password")
            echo = EchoBot(await make_client(synapse.url, echo_id, echo_token, work / "echo"))
            app, stop, serving, relais_id = await _relais(synapse, work)
            person_id, person_token = synapse.register(_name("camille"), "person-password")
            person = await make_client(synapse.url, person_id, person_token, work / "person")
            clients.append(person)
            rows: list[dict[str, Any]] = []
            for encrypted in (False, True):
                echo_room = await _room(person, echo_id, encrypted)
                relais_room = await _room(person, relais_id, encrypted)
                if not encrypted:  # joins the network once; the profile (!moi) is then asked in both rooms
                    await send_text(person, relais_room, f"!start {await _invitation(app)}", keys_timeout=WAIT)
                    await wait_for_message(person, relais_room, lambda e: "Bienvenue" in e.body, timeout=WAIT)
                echo_ms, relais_ms = await _measure(person, echo_room, relais_room, round_trips)
                rows += _rows("encrypted" if encrypted else "plain", echo_ms, relais_ms)
            stop.set()
            await serving
            await app.close()
            await echo.close()
            return rows
        finally:
            for client in clients:
                await client.close()
            synapse.stop()


if __name__ == "__main__":
    for row in asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else ROUND_TRIPS)):
        print(row)
