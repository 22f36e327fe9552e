"""Faults: kill -9 in the middle of conversations, a database outage, a messaging platform down for a while."""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.events import Address, Reply
from bot.i18n import t
from bot.outbox import DIRECT_LEASE, enqueue
from storage.db import sync_url
from storage.models import OutboxMessage
from tests.chat import FakeTransport
from tests.conftest import joined
from tests.servers.postgres import PostgresServer, start_postgres

# --- (a) kill -9 at random points of 100 scripted /signaler conversations -------------------------------------

SEED = 20260310
LINES = 7  # /signaler, theme, commune, description, public, urgency, Envoyer
OUTPUT_PER_CONVERSATION = 52  # lines the console prints for one conversation (questions, numbered choices)
# What the bot last says once each line of a conversation is handled: the acknowledgement of that line.
MARKERS = ("Quel type de problème", "Dans quelle commune", "Que se passe-t-il", "Quel public",
           "Est-ce urgent", "On l'envoie", "Merci ! Votre signalement")
STEPS = {"report.theme": 1, "report.commune": 2, "report.description": 3, "report.public": 4,
         "report.urgency": 5, "report.confirm": 6}
CONFUSED = ("Je n'ai pas compris", "Ce choix n'", "Choisissez une des options", "problème est survenu",
            "momentanément indisponible", "Vous envoyez beaucoup")
REFERENCE = re.compile(r"Merci ! Votre signalement (S-\d{4}-\d{5})")
SCRIPTED = "Panne simulée numéro"  # the demo network comes with reports of its own: these are told apart


@dataclass(frozen=True)
class Plan:
    """How many conversations, and how many process lives ended by kill -9 (each life costs ~2 s to start)."""

    backend: str
    conversations: int
    kills: int

    @property
    def lines(self) -> int:
        return self.conversations * LINES

    def kill_after(self, rng: random.Random) -> int:
        """Output lines before the kill: on average the script is spread evenly over the lives."""
        return rng.randint(40, 2 * OUTPUT_PER_CONVERSATION * self.conversations // (self.kills + 1))


PLANS = [Plan("sqlite", conversations=60, kills=10), Plan("postgresql", conversations=12, kills=2)]


def description(n: int) -> str:
    return f"{SCRIPTED} {n:03d} : le portail de la CAF ne répond plus depuis ce matin"


def script_line(position: int) -> str:
    n, line = divmod(position, LINES)
    return ("/signaler", "1", "Romagné", description(n), "1", "2", "1")[line]


@dataclass
class Life:
    """One run of `relais console` fed the script from `start` to `end`, perhaps killed after `kill_after` lines."""

    start: int
    end: int
    kill_after: int | None
    linger: float = 0.0  # seconds its input stays open after the script (no more lines: the outbox's turn)
    output: list[str] = field(default_factory=list)
    stderr: str = ""
    killed: bool = False

    def acknowledged(self) -> int:
        """How far the script got by this life's output: markers matched in order from `start`.

        A reply left unsent by the previous life may be printed first by this one (the outbox resends it):
        it never matches the marker expected next, so it is skipped."""
        position = self.start
        for line in self.output:
            if position < self.end and MARKERS[position % LINES] in line:
                position += 1
        return position


def console_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=database_url, RELAIS_DATA_DIR=str(data_dir),
               RELAIS_RATE_LIMIT_PER_MINUTE="0")  # a scripted referent types faster than any person
    return env


def run_life(life: Life, env: dict[str, str], cwd: Path, rng: random.Random) -> None:
    bot = subprocess.Popen([sys.executable, "-m", "bot", "console", "--as", "referent"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    assert bot.stdin and bot.stdout and bot.stderr
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(bot.stdout, lines), daemon=True)
    reader.start()
    errors: list[str] = []
    err_reader = threading.Thread(target=lambda: errors.append(bot.stderr.read()), daemon=True)  # type: ignore[union-attr]
    err_reader.start()
    # The whole rest of the script at once (about 20 kB, under a pipe's buffer): the bot reads a line only once
    # the previous one is handled, so the kill lands anywhere, mid-transaction included.
    bot.stdin.write("".join(script_line(p) + "\n" for p in range(life.start, life.end)))
    bot.stdin.flush()
    closing = threading.Timer(life.linger, bot.stdin.close)
    closing.start()
    deadline = time.monotonic() + 120
    while True:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
        if line is None:
            break
        life.output.append(line)
        if not life.killed and life.kill_after is not None and len(life.output) >= life.kill_after:
            time.sleep(rng.uniform(0, 0.02))  # not always right after a write: sometimes inside the next step
            os.kill(bot.pid, signal.SIGKILL)
            life.killed = True  # what was already written to the pipe was delivered: keep reading it
    bot.wait(timeout=30)
    closing.join()
    reader.join(timeout=10)
    err_reader.join(timeout=10)
    life.stderr = "".join(errors)


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


def database_position(url: str) -> tuple[int, dict[str, str]]:
    """Where the script stands according to the database (the truth), and the saved reports by reference."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            saved = conn.execute(text("select reference, description from report where description like :p "
                                      "order by id"), {"p": f"{SCRIPTED}%"}).all()
            row = conn.execute(text("select step, data from conversation where platform = 'console' "
                                    "and user_id = 'referent'")).first()
    finally:
        engine.dispose()
    done = len(saved)
    assert [d for _, d in saved] == [description(n) for n in range(done)], "a report lost, duplicated or reordered"
    step = STEPS.get(row[0], 0) if row else 0
    if row and step > 3:  # past the description: the flow holds the description of the conversation under way
        data = row[1] if isinstance(row[1], dict) else json.loads(row[1])
        assert data["description"] == description(done), row
    return done * LINES + step, dict(saved)


def unsent_answers(url: str) -> int:
    """Answers queued and not yet sent (the person has not seen them)."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("select count(*) from outbox where sent_at is null and failed_at is null "
                                         "and platform = 'console' and priority = 0")).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory in memory when the machine has one: a kill -9 leaves the page cache intact, so only the
    speed changes (no fsync), not what the test proves."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="relais-faults-", dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("plan", PLANS, ids=[plan.backend for plan in PLANS])
def test_kill_9_at_random_points_loses_and_duplicates_no_report(plan: Plan, fast_dir: Path,
                                                               request: pytest.FixtureRequest) -> None:
    """Each life of `relais console` is fed the rest of the script and killed after a random number of output
    lines; the next life resumes from what the database holds. The person never gets a confused answer."""
    rng = random.Random(SEED)
    if plan.backend == "sqlite":
        url = f"sqlite:///{fast_dir / 'relais.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("relais_kill_9")
    env = console_env(url, fast_dir / "data")
    position, lives, acknowledged_refs = 0, list[Life](), set[str]()
    # Until a life ends on its own with nothing left to send. A life killed after a commit but before its answer
    # went out leaves that answer under its lease (DIRECT_LEASE): the next life sends it once the lease is over,
    # so after the script a last life stays up that long (one ending at once used to leave it unsent).
    while not lives or lives[-1].killed or unsent_answers(url):
        assert len(lives) < 40, "too many restarts: the script does not progress"
        life = Life(position, plan.lines, kill_after=plan.kill_after(rng) if len(lives) < plan.kills else None,
                    linger=DIRECT_LEASE.total_seconds() + 5 if lives and not lives[-1].killed else 0.0)
        run_life(life, env, fast_dir, rng)
        lives.append(life)
        assert "Traceback" not in life.stderr, life.stderr[-2000:]
        confused = [line for line in life.output if any(words in line for words in CONFUSED)]
        assert not confused, f"the bot lost track after a restart at line {position}: {confused[:3]}"
        acknowledged_refs |= {m.group(1) for line in life.output if (m := REFERENCE.search(line))}
        new_position, _ = database_position(url)
        # Every answer the person saw was committed before it was sent: the database never goes back.
        assert new_position >= life.acknowledged(), (new_position, life.acknowledged())
        assert new_position >= position
        position = new_position
    _, saved = database_position(url)
    assert len(saved) == plan.conversations == len(set(saved.values()))
    # A reply cut off by a kill is sent by the next life: in the end every saved report was acknowledged.
    assert acknowledged_refs == set(saved)
    assert sum(life.killed for life in lives) >= plan.kills // 2
    print(f"\n{plan.backend}: {plan.conversations} conversations, {len(lives)} process lives, "
          f"{sum(life.killed for life in lives)} kill -9, {len(saved)} reports")


# --- (b) the database goes away for a while, then comes back ----------------------------------------------------

@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A server of its own: halting the shared one would break every other PostgreSQL test."""
    server = start_postgres()
    yield server
    server.stop()


async def test_database_outage_is_answered_politely_and_recovers_by_itself(
        own_postgres: PostgresServer, tmp_path: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=own_postgres.create_database("relais_outage"), data_dir=tmp_path / "data",
                        _env_file=None)  # type: ignore[call-arg]
    transport = FakeTransport()
    app = App(settings, clock=clock, transports=[transport])
    await app.prepare()
    try:
        assert app.engine.pool._pre_ping  # type: ignore[attr-defined]  # dead pooled connections are replaced
        chat = await joined(app, transport, "referent", "u-outage", territory="35-fougeres")
        await chat.say("/signaler")
        assert MARKERS[1] in await chat.text("1")

        own_postgres.halt()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            during = await chat.say("Romagné")
            again = await chat.say("Romagné")
        assert [r.text for r in during] == [t("core.unavailable")] == [r.text for r in again]
        assert not [r for r in caplog.records if r.exc_info], "an outage is expected, not a traceback"

        own_postgres.resume()
        assert MARKERS[2] in await chat.text("Romagné")  # the flow resumes where it was before the outage

        own_postgres.halt()  # a restart between two messages (an upgrade, a failover): nobody wrote meanwhile,
        own_postgres.resume()  # so the pool still holds connections to the old server; pre-ping replaces them
        assert MARKERS[3] in await chat.text(description(0))
        assert "Ce que vous pouvez faire" in await chat.text("/aide")
    finally:
        own_postgres.resume()
        await app.close()


# --- (c) the messaging platform is down for a while: the outbox waits, then drains in order -------------------

async def test_platform_outage_then_outbox_drains_once_and_in_order(app: App, transport: FakeTransport,
                                                                    clock: FrozenClock) -> None:
    chats = ("chat-a", "chat-b", "chat-c")
    async with app.sessions() as session, session.begin():
        for i in range(30):
            chat = chats[i % 3]
            await enqueue(session, f"fault:{i}", Address(transport.platform, chat, chat, False),
                          Reply(f"message {i} pour {chat}"), now=clock.now())
    transport.fail_next = 10**9
    outage = clock.now() + timedelta(minutes=15)
    while clock.now() < outage:
        await app.outbox.run_once()
        clock.advance(timedelta(seconds=30))
    assert transport.sent == []
    assert await _pending(app) == 30  # nothing abandoned during a quarter of an hour

    transport.fail_next = 0
    for _ in range(200):
        await app.outbox.run_once()
        if not await _pending(app):
            break
        clock.advance(timedelta(seconds=30))
    assert await _pending(app) == 0
    texts = [d.reply.text for d in transport.sent]
    assert len(texts) == 30 == len(set(texts))
    for chat in chats:
        assert [r.text for r in transport.to(chat)] == [f"message {i} pour {chat}" for i in range(30) if
                                                        chats[i % 3] == chat]
    async with app.sessions() as session:
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.key.like("fault:%")))).scalars()
        assert all(row.sent_at is not None and row.failed_at is None for row in rows)


async def _pending(app: App) -> int:
    async with app.sessions() as session:
        rows = await session.execute(select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None),
                                                                    OutboxMessage.failed_at.is_(None)))
        return len(rows.all())
