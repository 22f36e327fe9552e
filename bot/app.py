"""The one place that wires everything: database, routes, outbox, dispatcher, adapters, scheduler, API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.router import Router, Routes
from bot.scheduler import Scheduler
from bot.transport import Transport
from storage.db import make_engine, make_sessionmaker, migrate
from storage.demo import is_empty, seed_demo

log = logging.getLogger(__name__)


def feature_routers() -> list[Router]:
    """Every feature's router, in /aide order of registration."""
    from handlers import digest, help, onboarding, profile, report_followup, reports

    return [help.router, reports.router, report_followup.router, digest.router, onboarding.router, profile.router]


class App:
    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 transports: Iterable[Transport] = (), routers: Sequence[Router] | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.routes = Routes(routers if routers is not None else feature_routers())
        self.transports: dict[str, Transport] = {t.platform: t for t in transports}
        self.metrics = Metrics()
        self.outbox = Outbox(self.sessions, self.transports, self.clock,
                             max_attempts=settings.outbox_max_attempts, metrics=self.metrics)
        self.dispatcher = Dispatcher(self.sessions, self.routes, self.clock, settings, self.outbox,
                                     self.transports, self.metrics)
        self.scheduler = Scheduler(self.sessions, self.engine, self.routes.jobs, self.clock, settings,
                                   on_enqueued=self.outbox.wake)

    async def prepare(self) -> None:
        """Migrate the schema, then seed the demo network when the database is empty and seeding is on."""
        await asyncio.to_thread(migrate, self.settings.database_url)
        if self.settings.demo_seed:
            async with self.sessions() as session, session.begin():
                if await is_empty(session):
                    await seed_demo(session, self.clock.now())
                    log.info("demo network seeded")

    async def serve(self, stop: asyncio.Event) -> None:
        """Run every transport, the outbox worker and the API until `stop` is set, then shut down cleanly."""
        tasks = [asyncio.create_task(self.outbox.run(stop), name="outbox")]
        if self.settings.api_listen:
            from bot.api import serve

            tasks.append(asyncio.create_task(serve(self, self.settings.api_listen, stop.wait()), name="api"))
        for transport in self.transports.values():
            await transport.start(self.dispatcher.handle)
        self.scheduler.start()
        log.info("relais is running with: %s", ", ".join(self.transports) or "no adapter")
        await stop.wait()
        await self.scheduler.stop()
        for transport in self.transports.values():
            await transport.stop()
        await self.outbox.run_once()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.engine.dispose()
