"""Telegram through the real PTB stack and the fake Bot API: a referent workload beside the bare echo; a broadcast."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.echo_telegram import run_bare_echo
from bot.adapters.telegram.adapter import CONCURRENT_UPDATES, TelegramTransport
from bot.app import App
from bot.clock import SystemClock
from bot.config import Settings
from bot.events import Address, Choice, Delivery, Reply
from bot.outbox import enqueue
from storage.db import make_engine, make_sessionmaker
from storage.meetings import NewMeeting, Rsvp, create_meeting
from storage.members import create_invitation
from storage.models import Identity, Member
from storage.territories import by_code
from tests.fakes.relais_cluster import Cluster
from tests.fakes.telegram_api import FakeTelegram, FakeUser, Limits, SentMessage
from tests.servers.postgres import PostgresServer, start_postgres

TOKEN = "123456:BENCH-token"
USERS = 20
ROUNDS = 2
BROADCAST = 1000
RSVP_MEMBERS = 1000
RSVP_SPREAD = 10.0  # seconds over which the members press
WAIT = 60.0
# One referent's session: (what they do, a text of the answer that ends the step).
JOIN = ("say", "/start {code}", "Bienvenue")
ROUND = (
    ("say", "/aide", "Ce que vous pouvez faire"),
    ("say", "/nom", "Quel nom"),
    ("say", "Camille {n}, CCAS de Romagné", "C'est bon ?"),
    ("press", "Confirmer", "C'est fait"),
    ("say", "/signaler", "Quel type de problème"),
    ("press", "Démarche en ligne", "Dans quelle commune"),
    ("press", "Romagné", "Que se passe-t-il"),
    ("say", "Le portail des impôts refuse la connexion depuis la mise à jour.", "Quel public"),
    ("press", "Seniors", "Est-ce urgent"),
    ("press", "Urgent", "Votre signalement"),
    ("press", "Envoyer", "Merci"),
)


@asynccontextmanager
async def serving(fake: FakeTelegram, folder: Path) -> AsyncIterator[App]:
    """relais as `relais run` starts it (PostgreSQL, the system clock), its Telegram adapter on the fake."""
    assert DATABASES, "run() starts the PostgreSQL server"
    settings = Settings(database_url=DATABASES[0].create_database(folder.name), data_dir=folder / "data",
                        _env_file=None)  # type: ignore[call-arg]
    transport = TelegramTransport(TOKEN, api_url=fake.api_url, poll_timeout=1)
    app = App(settings, transports=[transport])
    await app.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(app.serve(stop))
    try:
        while not transport.healthy():
            await asyncio.sleep(0.01)
        yield app
    finally:
        stop.set()
        await task
        await app.close()


async def invitations(app: App, count: int) -> list[str]:
    async with app.sessions() as session, session.begin():
        place = await by_code(session, "35-fougeres")
        assert place is not None
        return [(await create_invitation(session, role="referent", territory_id=place.id, now=app.clock.now())).code
                for _ in range(count)]


async def step(user: FakeUser, kind: str, what: str, expect: str) -> float:
    """Do one step; seconds from the update queued to the answer that ends it recorded by the fake."""
    telegram = user.fake
    before = telegram.sent_count(user.chat_id)
    queued = time.monotonic()
    if kind == "say":
        await user.say(what)
    else:
        offers = [(m, b) for m in telegram.sent_to(user.chat_id) for b in m.labels if b.startswith(what)]
        await user.press(*offers[-1])

    def answered() -> Any:
        return next((m for m in telegram.sent_to(user.chat_id)[before:] if expect in m.plain_text), None)

    return float((await telegram.wait_for(answered, WAIT)).received_at - queued)


async def referent(user: FakeUser, code: str, latencies: list[float]) -> None:
    kind, what, expect = JOIN
    latencies.append(await step(user, kind, what.format(code=code.replace("-", "")), expect))
    for n in range(ROUNDS):
        for kind, what, expect in ROUND:
            latencies.append(await step(user, kind, what.format(n=n), expect))


async def workload(fake: FakeTelegram, folder: Path) -> dict[str, float]:
    async with serving(fake, folder) as app:
        codes = await invitations(app, USERS)
        warmup = fake.user(799_999, "Warmup")
        await referent(warmup, (await invitations(app, 1))[0], [])
        latencies: list[float] = []
        started = time.monotonic()
        await asyncio.gather(*(referent(fake.user(800_000 + i, f"Ref{i}"), code, latencies)
                               for i, code in enumerate(codes)))
        elapsed = time.monotonic() - started
    return {"updates": len(latencies), "updates_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


async def broadcast(fake: FakeTelegram, folder: Path) -> dict[str, float]:
    """1,000 messages to 1,000 chats through the outbox, Telegram's flood limits on at the fake."""
    async with serving(fake, folder) as app:
        chats = [1_000_000 + i for i in range(BROADCAST)]  # chats of their own (the echo floor uses 900,000+)
        fake.limits = Limits(global_per_s=30, per_chat_per_s=1, per_group_per_min=20)
        floods = fake.counts["flood_429"] + fake.counts["429"]
        async with app.sessions() as session, session.begin():
            for chat in chats:
                await enqueue(session, f"bench:{chat}", Address("telegram", str(chat), ""),
                              Reply(f"Rappel : réunion jeudi 14 h ({chat})"), now=app.clock.now())
        started = time.monotonic()
        app.outbox.wake()
        await fake.wait_for(lambda: all(fake.sent_count(c) for c in chats), BROADCAST / 30 * 3)
        elapsed = time.monotonic() - started
        await app.outbox.run_once()  # anything still queued would show as a duplicate below
        received = [sum(1 for m in fake.sent_to(c) if m.plain_text.startswith("Rappel")) for c in chats]
        fake.limits = None
    return {"seconds": elapsed, "floods": fake.counts["flood_429"] + fake.counts["429"] - floods,
            "lost": sum(1 for n in received if n == 0), "duplicated": sum(n - 1 for n in received if n > 1)}


async def rsvp_burst(fake: FakeTelegram, folder: Path) -> dict[str, float]:
    """A reminder reached 1,000 members; they all press « Présent » within 10 s. relais runs as in production: its
    own `relais run` process (webhook), the fake Bot API and the members in this one. Each press: seconds from the
    update queued to its callback answer recorded by the fake; then the answers stored and the replies sent."""
    server = DATABASES[0]
    url = server.create_database("relais_rsvp")
    cluster = Cluster(fake, url, server.dsn_for("relais_rsvp"), folder, 1)
    await cluster.prepare()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        choices, members = await _rsvp_seed(sessions)
        await cluster.start()
        people = [fake.user(3_000_000 + i, f"Membre{i}") for i in range(RSVP_MEMBERS)]
        reminders = await _remind(fake, people, choices)
        await cluster.wait_warm()
        # This process plays Telegram for every phase of the bench: what it kept from the previous ones must not
        # cost it collector pauses during the burst (answers would be recorded late, on its side).
        gc.collect()
        gc.freeze()
        pressed: dict[str, float] = {}
        started = time.monotonic()
        for i, (person, reminder) in enumerate(zip(people, reminders, strict=True)):
            await asyncio.sleep(max(0.0, started + i * RSVP_SPREAD / RSVP_MEMBERS - time.monotonic()))
            pressed[await person.press(reminder, "Présent")] = time.monotonic()
        with contextlib.suppress(TimeoutError):  # what is missing shows in the rows
            await fake.wait_for(lambda: len(fake.callback_answers) >= RSVP_MEMBERS, WAIT * 2)
            await fake.wait_for(lambda: all(fake.sent_count(p.chat_id) >= 2 for p in people), WAIT * 2)
        answers = [a for a in fake.callback_answers if a.query_id in pressed]
        confirmed = max((m.received_at for p in people for m in fake.sent_to(p.chat_id)[1:]), default=0) - started
        if any(fake.sent_count(p.chat_id) < 2 for p in people):
            print(cluster.logs(), file=sys.stderr)
        async with sessions() as session:
            query = select(Rsvp.member_id, func.count()).where(Rsvp.member_id.in_(members)).group_by(Rsvp.member_id)
            recorded = dict((await session.execute(query)).tuples().all())
        replies = [fake.sent_count(p.chat_id) - 1 for p in people]
    finally:
        gc.unfreeze()
        await cluster.stop()
        await engine.dispose()
    waits = [a.received_at - pressed[a.query_id] for a in answers]
    return {"answered": len(waits), "p99_ms": percentile(waits, 99) * 1000, "p50_ms": percentile(waits, 50) * 1000,
            "with_choice": sum(1 for a in answers if a.text), "confirmed_s": confirmed,
            "recorded_once": sum(1 for m in members if recorded.get(m) == 1),
            "replied_once": sum(1 for n in replies if n == 1)}


async def _remind(fake: FakeTelegram, people: list[FakeUser], choices: tuple[Choice, ...]) -> list[SentMessage]:
    """The reminder each member got, with its buttons, sent as relais sends it (its Telegram adapter, not started)."""
    sender = TelegramTransport(TOKEN, api_url=fake.api_url)
    await sender.application.initialize()
    try:
        for person in people:
            address = Address("telegram", str(person.chat_id), str(person.id))
            await sender.send(Delivery(address, Reply("Rappel : Réunion du réseau demain à 14 h", choices=choices,
                                                      prompt_id="rsvp", choices_per_row=3)))
    finally:
        await sender.application.shutdown()
    return [fake.sent_to(person.chat_id)[-1] for person in people]


async def _rsvp_seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[tuple[Choice, ...], list[int]]:
    """RSVP_MEMBERS referents on Telegram in Fougères, and a meeting of the territory tomorrow."""
    now = SystemClock().now()
    async with sessions() as session, session.begin():
        place = await by_code(session, "35-fougeres")
        assert place is not None
        members = [Member(display_name=f"Membre {i}", role="referent", territory_id=place.id, created_at=now,
                          identities=[Identity(platform="telegram", user_id=str(3_000_000 + i),
                                               chat_id=str(3_000_000 + i), created_at=now)])
                   for i in range(RSVP_MEMBERS)]
        session.add_all(members)
        starts = (now + timedelta(days=1)).replace(second=0, microsecond=0)
        meeting = await create_meeting(session, NewMeeting(place.id, "Réunion du réseau", "Médiathèque", starts,
                                                           None, None, "bench-rsvp"), now)
        await session.flush()
        stamp = f"{meeting.id}:{starts.astimezone(UTC):%Y%m%d%H%M}"
        ids = [m.id for m in members]
    choices = tuple(Choice(f"{stamp}:{a}", label) for a, label in (("yes", "Présent"), ("no", "Absent"),
                                                                   ("maybe", "Peut-être")))
    return choices, ids


DATABASES: list[PostgresServer] = []


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] if ordered else 0.0


async def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        DATABASES.append(start_postgres(Path(tempfile.mkdtemp(prefix="relais-bench-"))))
        try:
            return await _run(Path(tmp))
        finally:
            DATABASES.pop().stop()


async def _run(tmp: Path) -> list[dict[str, Any]]:
    async with FakeTelegram() as fake:
        # The burst first, on a fresh fake (its callback p99 moves a lot with the machine's load: 0.4–5.8 s measured).
        burst = await rsvp_burst(fake, tmp / "rsvp")
        ours = await workload(fake, tmp / "workload")
        # The floor handles updates side by side too: the same PTB setting as the adapter.
        echo = await run_bare_echo(fake, int(ours["updates"]), USERS, concurrent_updates=CONCURRENT_UPDATES)
        # The same echo kept to Telegram's flood limits (30 messages/s), as relais keeps to them: what the platform
        # allows any bot in this workload. The bare echo above would meet 429s on the real Bot API.
        limited = await run_bare_echo(fake, int(ours["updates"]), USERS, concurrent_updates=CONCURRENT_UPDATES,
                                      telegram_limits=True, first_user_id=950_000)
        sent = await broadcast(fake, tmp / "broadcast")
    label = f"Telegram referent workload ({USERS} users, {int(ours['updates'])} updates)"
    floor_s = BROADCAST / 30
    return [
        *against(label, ours, echo),
        *against(label, ours, limited, ", floor: the echo within Telegram's 30 msg/s (PTB's AIORateLimiter)"),
        row("Telegram broadcast 1,000 chats at 30 msg/s: time", sent["seconds"], "s", floor_s,
            sent["seconds"] / floor_s, "ratio <= 1.1"),
        row("Telegram broadcast: 429 received", sent["floods"], "", None, None, "0"),
        row("Telegram broadcast: lost", sent["lost"], "", None, None, "0"),
        row("Telegram broadcast: duplicated", sent["duplicated"], "", None, None, "0"),
        row(f"RSVP burst: {RSVP_MEMBERS:,} members press a reminder button within {RSVP_SPREAD:.0f} s, callback "
            "answer p99", burst["p99_ms"], "ms", 1000.0, burst["p99_ms"] / 1000, "ratio <= 1"),
        row("RSVP burst: presses left without a callback answer", RSVP_MEMBERS - burst["answered"], "", None, None,
            "0"),
        {"name": "RSVP burst: callback answers carrying the core's « ✓ Présent » (the others: plain, in 0.5 s)",
         "value": burst["with_choice"], "unit": f"of {RSVP_MEMBERS:,}", "floor": None, "ratio": None, "goal": "",
         "ok": None},
        {"name": "RSVP burst: last confirmation message, seconds after the first press", "value":
         round(burst["confirmed_s"], 1), "unit": "s", "floor": RSVP_SPREAD, "ratio": None, "goal": "", "ok": None},
        row("RSVP burst: answers not recorded exactly once", RSVP_MEMBERS - burst["recorded_once"], "", None, None,
            "0"),
        row("RSVP burst: members without exactly one confirmation", RSVP_MEMBERS - burst["replied_once"], "", None,
            None, "0"),
    ]


def against(label: str, ours: dict[str, float], floor: dict[str, Any], which: str = "") -> list[dict[str, Any]]:
    """The workload's throughput, p50 and p99 beside an echo's (`which` names that echo in the rows)."""
    return [row(f"{label}: throughput{which}", ours["updates_per_s"], "updates/s", floor["updates_per_s"],
                floor["updates_per_s"] / ours["updates_per_s"], "ratio <= 2"),
            *(row(f"{label}: {what} latency{which}", ours[key], "ms", floor[key], ours[key] / floor[key],
                  "ratio <= 2") for what, key in (("p50", "p50_ms"), ("p99", "p99_ms")))]


def row(name: str, value: float, unit: str, floor: float | None, ratio: float | None, goal: str) -> dict[str, Any]:
    ok = ratio <= float(goal.split("<=")[1]) if ratio is not None else value == float(goal)
    return {"name": name, "value": round(value, 2), "unit": unit, "floor": None if floor is None else round(floor, 2),
            "ratio": None if ratio is None else round(ratio, 2), "goal": goal, "ok": ok}


if __name__ == "__main__":
    for result in asyncio.run(run()):
        print(result)
