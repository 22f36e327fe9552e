"""Several real `relais run` processes in webhook mode behind the fake Bot API (their load balancer), sharing one
PostgreSQL database: what the README documents as the way to grow. Used by tests/test_multiprocess.py and bench."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bot.app import App
from bot.config import Settings
from bot.scheduler import LEADER_LOCK_KEY
from tests.fakes.telegram_api import FakeTelegram
from tests.servers.process import free_port, log_tail

TOKEN = "123456:CLUSTER-token"
SECRET = "one-secret-for-every-process"  # RELAIS_TELEGRAM_WEBHOOK_SECRET: the same behind the load balancer
PUBLIC_URL = "https://relais.invalid/telegram"  # what Telegram is told; the fake forwards to each process
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0  # a busy 2-core machine: imports, migrations checked, PTB started
STOP_TIMEOUT = 30.0


@dataclass
class Worker:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    """`size` processes started from `settings` (database, data folder) with the fake as their Bot API."""

    fake: FakeTelegram
    database_url: str  # postgresql+psycopg://…/name
    dsn: str  # the same database for psycopg (postgresql://…/name)
    folder: Path
    size: int
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    async def prepare(self) -> None:
        """Schema and demo territories once, before any process starts (they then skip seeding)."""
        settings = Settings(database_url=self.database_url, data_dir=self.folder / "prepare", demo_content=False,
                            _env_file=None)  # type: ignore[call-arg]
        app = App(settings, transports=[])
        try:
            await app.prepare()
        finally:
            await app.close()

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for i in range(self.size):
            self.workers.append(self._spawn(i))
        self.fake.balance([f"http://127.0.0.1:{w.port}" for w in self.workers])
        deadline = time.monotonic() + START_TIMEOUT
        for worker in self.workers:
            while not _listening(worker.port):
                if not worker.alive or time.monotonic() > deadline:
                    raise RuntimeError(f"{worker.name} did not start:\n{log_tail(worker.log)}")
                await asyncio.sleep(0.1)
        await self.fake.wait_for(lambda: self.fake.webhook is not None, START_TIMEOUT)

    async def wait_warm(self, timeout: float = 60.0) -> None:
        """Until every process has finished its warm-up (directory and masking model loaded): the state of a bot
        that has been running a while, as when a reminder it sent brings presses back."""
        deadline = time.monotonic() + timeout
        while not all(b"warm-up done" in w.log.read_bytes() for w in self.workers):
            if time.monotonic() > deadline:
                raise TimeoutError("warm-up not done:\n" + self.logs())
            await asyncio.sleep(0.2)

    def _spawn(self, i: int) -> Worker:
        name, port = f"relais-{i + 1}", free_port()
        data = self.folder / name
        data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "RELAIS_DATABASE_URL": f"{self.database_url}?application_name={name}",  # leader() finds it by name
               "RELAIS_DATA_DIR": str(data), "RELAIS_DEMO_SEED": "false", "RELAIS_TELEGRAM_TOKEN": TOKEN,
               "RELAIS_TELEGRAM_API_URL": self.fake.api_url, "RELAIS_TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
               "RELAIS_TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}", "RELAIS_TELEGRAM_WEBHOOK_SECRET": SECRET,
               "RELAIS_LOG_LEVEL": "INFO", **self.extra_env}
        log = data / "relais.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=data, env=env,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        return Worker(name, port, log, process)

    def leader(self) -> Worker | None:
        """The process holding the scheduler's PostgreSQL advisory lock (found by its connection's name)."""
        query = ("select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                 "where l.locktype = 'advisory' and l.granted and l.classid = 0 and l.objid = %s and l.objsubid = 1")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(query, (LEADER_LOCK_KEY,)).fetchone()
        return next((w for w in self.workers if row and w.name == row[0]), None)

    async def wait_leader(self, timeout: float = 60.0, *, other_than: Worker | None = None) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = await asyncio.to_thread(self.leader)
            if found is not None and found is not other_than and found.alive:
                return found
            await asyncio.sleep(0.2)
        raise TimeoutError("no process took the lead:\n" + "\n".join(log_tail(w.log, 10) for w in self.workers))

    @staticmethod
    def kill(worker: Worker) -> None:
        """kill -9: no clean shutdown, its database connections just drop."""
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(STOP_TIMEOUT)

    async def stop(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                await asyncio.to_thread(worker.process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        self.fake.balance([])

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{log_tail(w.log, 30)}" for w in self.workers)


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
