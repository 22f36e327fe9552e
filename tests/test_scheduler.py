"""Only one process runs the jobs, another takes over when it goes; restarts never send a reminder twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.jobs import JobContext
from bot.router import Router
from bot.scheduler import LEADER_LOCK_KEY, Leadership
from storage.db import make_engine
from storage.models import OutboxMessage
from tests.chat import FakeTransport
from tests.conftest import joined
from tests.servers.postgres import PostgresServer
from tests.test_meetings import LATE, meeting_at, remind, reminders, utc


async def _leader_backends(url: str) -> list[int]:
    """Server processes holding the leader lock, as PostgreSQL itself sees them."""
    engine = make_engine(url)
    async with engine.connect() as connection:
        pids = (await connection.execute(text(
            "select pid from pg_locks where locktype = 'advisory' and objid = :k and granted"),
            {"k": LEADER_LOCK_KEY})).scalars().all()
    await engine.dispose()
    return list(pids)


async def test_two_processes_on_one_postgresql_cannot_both_lead(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database("relais_leaders")
    engines = [make_engine(url), make_engine(url)]
    first, second = (Leadership(engine, tmp_path / f"data-{i}") for i, engine in enumerate(engines))
    try:
        assert await first.acquire()
        assert not await second.acquire() and not second.is_leader
        assert await first.acquire()  # still leading: asking again is harmless
        assert len(await _leader_backends(url)) == 1

        await first.release()
        assert await second.acquire() and not await first.acquire()

        # the leader's process dies (kill -9): PostgreSQL ends its session, the lock goes with it
        [pid] = await _leader_backends(url)
        engine = make_engine(url)
        async with engine.connect() as connection:
            await connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        await engine.dispose()
        assert await first.acquire()
    finally:
        for leadership in (first, second):
            await leadership.release()
        for engine in engines:
            await engine.dispose()


async def test_on_sqlite_a_file_lock_elects_the_leader(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'relais.db'}")
    first, second = Leadership(engine, tmp_path / "data"), Leadership(engine, tmp_path / "data")
    assert await first.acquire() and not await second.acquire()
    await first.release()
    assert await second.acquire()
    await second.release()
    await engine.dispose()


async def test_of_two_bots_on_one_database_only_the_leader_runs_jobs(settings: Settings, clock: FrozenClock) -> None:
    runs: list[str] = []

    def counting(name: str) -> Router:
        router = Router(f"count-{name}")

        @router.job("count", every_seconds=30)
        async def count(_job: JobContext) -> None:
            runs.append(name)
        return router

    first = App(settings, clock=clock, routers=[counting("first")])
    second = App(settings, clock=clock, routers=[counting("second")])
    try:
        for _ in range(3):
            await first.scheduler.tick()
            await second.scheduler.tick()
        assert runs == ["first"] * 3
        await first.scheduler.stop()  # the leader stops: the other one takes over at its next tick
        await second.scheduler.tick()
        assert runs[-1] == "second"
    finally:
        for app in (first, second):
            await app.scheduler.stop()
            await app.close()


async def _reminder_rows(app: App) -> int:
    async with app.sessions() as session:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.key.startswith("reminder:"))
        return (await session.execute(query)).scalar_one()


async def _crash(app: App) -> None:
    """What kill -9 leaves: the leader lock is gone with the process, nothing else is cleaned up."""
    await app.scheduler.leadership.release()
    await app.close()


async def test_killed_across_a_reminder_and_restarted_twice_it_is_sent_once_late(
    app: App, settings: Settings, clock: FrozenClock, transport: FakeTransport
) -> None:
    await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await meeting_at(app, "35-fougeres", datetime(2026, 3, 12, 14))  # noqa: DTZ001 (local wall time)
    j1 = utc(2026, 3, 11, 13)
    await remind(app, clock, j1 - timedelta(minutes=1))
    await _crash(app)  # down at J-1 …

    clock.set(j1 + timedelta(hours=2, minutes=30))  # … back 2 h 30 later, within the 6 h grace period
    restarted = App(settings, clock=clock, transports=[transport])
    await restarted.prepare()
    await restarted.scheduler.tick()
    queued = await _reminder_rows(restarted)
    await _crash(restarted)  # killed again, after queuing and before sending

    for _ in range(2):  # restarted twice more: each one runs the jobs and the outbox
        again = App(settings, clock=clock, transports=[transport])
        await again.prepare()
        await remind(again, clock, clock.advance(timedelta(minutes=1)))
        await _crash(again)
    got = reminders(transport, "u-karim")
    assert len(got) == 1 and LATE in got[0].text and got[0].attachment is not None
    assert queued == 3  # Karim and the two demo members: one row each, never more
    assert await _reminder_rows(again) == 3
