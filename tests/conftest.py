"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL started here."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import inspect, text

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.db import migrate
from tests.chat import Chat, FakeTransport
from tests.servers.postgres import PostgresServer, start_postgres
from tests.servers.synapse import SynapseServer, start_synapse

T = TypeVar("T")
BACKENDS = ("sqlite", "postgresql")
_ran: Counter[str] = Counter()
_numbers = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def masking_model() -> None:
    """The French model the masker uses, loaded once before any test (as `relais run` does at start): a test's
    time limits then measure the bot, not the model's first load on a busy machine."""
    from handlers.reports.masking_words import lexicon

    lexicon()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def synapse() -> Iterator[SynapseServer]:
    """One real Synapse homeserver on 127.0.0.1 for the whole session (random user names per test)."""
    server = start_synapse()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def templates() -> dict[str, str]:
    """A migrated, empty database per backend, copied for each test (fast, and migrations run once)."""
    return {}


def _template(backend: str, templates: dict[str, str], request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend not in templates:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("template") / "template.db"
            templates[backend] = f"sqlite:///{path}"
        else:
            server: PostgresServer = request.getfixturevalue("postgres")
            templates[backend] = server.create_database("relais_template")
        migrate(templates[backend])
    return templates[backend]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> str:
    backend: str = request.param
    template = _template(backend, templates, request, tmp_path_factory)
    request.node.user_properties.append(("backend", backend))  # counted where the reports meet (xdist too)
    if backend == "sqlite":
        target = tmp_path / "relais.db"
        shutil.copy(template.removeprefix("sqlite:///"), target)
        return f"sqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"relais_test_{next(_numbers)}", template="relais_template")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The clock is frozen in tests: a per-minute flood limit would count a whole test as one minute.
    return Settings(database_url=database_url, data_dir=tmp_path / "data", demo_content=False,
                    rate_limit_per_minute=0, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock, transport: FakeTransport) -> AsyncIterator[App]:
    application = App(settings, clock=clock, transports=[transport])
    await application.prepare()
    yield application
    await application.close()


@pytest.fixture
async def member_chat(app: App, transport: FakeTransport) -> Chat:
    """A referent of the demo Pays de Fougères network, already joined."""
    return await joined(app, transport, "referent", "u-referent", territory="35-fougeres")


async def joined(app: App, transport: FakeTransport, role: str, user_id: str, *, territory: str,
                 name: str = "Camille") -> Chat:
    from storage.members import create_invitation
    from storage.territories import by_code

    async with app.sessions() as session, session.begin():
        place = await by_code(session, territory)
        assert place is not None
        code = (await create_invitation(session, role=role, territory_id=place.id, now=app.clock.now())).code
    chat = Chat(app, transport, user_id, name=name)
    await chat.say(f"/start {code}")
    return chat


async def dump_tables(app: App) -> str:
    """Every row of every table, as text: to look for what must not be there (names, platform ids)."""
    async with app.sessions() as session:
        tables = await session.run_sync(lambda s: inspect(s.connection()).get_table_names())
        rows = [repr((await session.execute(text(f'select * from "{table}"'))).all()) for table in tables]
    return "\n".join(rows)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _ran.update(value for name, value in report.user_properties if name == "backend")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = ", ".join(f"{backend}: {_ran[backend]} tests" for backend in BACKENDS)
    terminalreporter.write_line(f"database backends exercised — {ran}")


@pytest.fixture
async def run_async() -> Callable[[Coroutine[Any, Any, T]], T]:
    """For synchronous tests (hypothesis): run a coroutine on the loop the async fixtures live on."""
    loop = asyncio.get_running_loop()
    return loop.run_until_complete
