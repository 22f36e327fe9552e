"""Engines, sessions and migrations for SQLite (aiosqlite) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def async_url(url: str) -> str:
    """The same database with an asyncio driver: sqlite -> aiosqlite, postgresql -> psycopg."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}.get(parsed.get_backend_name())
    if driver is None:
        raise ValueError(f"unsupported database: {parsed.get_backend_name()}")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT with ON CONFLICT support for the session's database (PostgreSQL or SQLite)."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # A writer waits its turn (another process, a long purge) rather than failing: one writer at a time.
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL + NORMAL: a commit survives a crash of the process (kill -9); only a power cut may lose the last ones.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # Error messages and logs must not carry what people wrote: SQL parameters are hidden from them.
    kwargs.setdefault("hide_parameters", True)
    if make_url(url).get_backend_name() != "sqlite":
        # A restarted server leaves dead connections in the pool: test each one before handing it out.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("storage") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision (runs at every start; a no-op when up to date)."""
    command.upgrade(alembic_config(url), "head")


def check_migrations(url: str) -> None:
    """Fail when the models and the migrations disagree (CI runs it)."""
    command.check(alembic_config(url))
