"""APScheduler wiring: the schedule itself lives in the database; jobs fire only in the leader process."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.jobs import JobContext
from bot.router import Job

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x72656C61  # "rela": one advisory lock id for the whole deployment


class Leadership:
    """Exactly one process runs the jobs: a PostgreSQL advisory lock, or a file lock next to a SQLite file."""

    def __init__(self, engine: AsyncEngine, data_dir: Path) -> None:
        self.engine, self.data_dir = engine, data_dir
        self._connection: AsyncConnection | None = None
        self._file: Any = None
        self._asking = asyncio.Lock()  # one connection: never two statements on it at once

    async def acquire(self) -> bool:
        """True while this process leads; the scheduler and the outbox worker both ask, one at a time."""
        async with self._asking:
            return await self._acquire()

    async def _acquire(self) -> bool:
        if self._connection is not None and not await self._still_held():
            self._connection = None
        if self.is_leader:
            return True
        if self.engine.dialect.name == "postgresql":
            return await self._acquire_advisory()
        return self._acquire_file()

    @property
    def is_leader(self) -> bool:
        return self._connection is not None or self._file is not None

    async def _still_held(self) -> bool:
        """The advisory lock lives as long as its session: a dropped connection means another may lead now."""
        assert self._connection is not None
        try:
            await self._connection.execute(text("select 1"))
            await self._connection.commit()
        except Exception:
            log.warning("scheduler: lost the leader lock's connection; trying to lead again")
            try:
                await self._connection.invalidate()
            except Exception:
                log.debug("invalidate failed", exc_info=True)
            return False
        return True

    async def _acquire_advisory(self) -> bool:
        connection = await self.engine.connect()
        got = (await connection.execute(text("select pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY})).scalar()
        await connection.commit()
        if got:
            self._connection = connection
            return True
        await connection.close()
        return False

    def _acquire_file(self) -> bool:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.data_dir / "scheduler.lock", "w")  # noqa: SIM115 (held for the process lifetime)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    async def release(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.execute(text("select pg_advisory_unlock(:k)"), {"k": LEADER_LOCK_KEY})
                await self._connection.close()
            except Exception:  # the connection may be gone; the server releases the lock with it
                log.debug("advisory lock release failed", exc_info=True)
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


class Scheduler:
    """Runs each feature job on its interval, in its own transaction, only while this process leads."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine, jobs: Mapping[str, Job],
                 clock: Clock, settings: Settings, on_enqueued: Any = None) -> None:
        self.sessions, self.jobs, self.clock, self.settings = sessions, jobs, clock, settings
        self.leadership = Leadership(engine, settings.data_path)
        self.on_enqueued = on_enqueued  # called after a job committed (wakes the outbox)
        self._aps: AsyncIOScheduler | None = None

    async def run_job(self, job: Job) -> None:
        """One run of one job; errors are logged and the next run tries again."""
        if not await self.leadership.acquire():
            return
        try:
            async with self.sessions() as session, session.begin():
                await job.run(JobContext(session, self.clock, self.settings))
        except Exception:
            log.exception("job %s failed; it will run again", job.name)
            return
        if self.on_enqueued:
            self.on_enqueued()

    async def tick(self) -> None:
        """Run every job once now (tests drive time with a frozen clock and call this)."""
        for job in self.jobs.values():
            await self.run_job(job)

    def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone="UTC")
        for job in self.jobs.values():
            self._aps.add_job(self.run_job, "interval", args=[job], seconds=job.every_seconds, id=job.name,
                              max_instances=1, coalesce=True)
        self._aps.start()
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.tick()))

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        await self.leadership.release()
