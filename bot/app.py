"""The one place that wires everything: database, routes, outbox, dispatcher, adapters, scheduler, API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.i18n import t
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.router import Router, Routes
from bot.scheduler import Scheduler
from bot.transport import Transport
from storage.communes import communes
from storage.db import make_engine, make_sessionmaker, migrate
from storage.demo import is_empty, seed_demo, seed_demo_meetings, seed_demo_reports
from storage.structure_import import seed_demo_structures

log = logging.getLogger(__name__)


def feature_routers() -> list[Router]:
    """Every feature's router, in /aide order of registration."""
    from handlers.coop import export as coop
    from handlers.digest import synthese as digest
    from handlers.help import commands as help
    from handlers.meetings.schedule import ROUTERS as meeting_routers
    from handlers.onboarding import join as onboarding
    from handlers.partners import edit as partner_edit
    from handlers.partners import hide as partner_hide
    from handlers.partners import search as partners
    from handlers.privacy import rights as privacy
    from handlers.profile import name as profile
    from handlers.reports import alerts as report_alerts
    from handlers.reports import create as reports
    from handlers.reports import followup as report_followup

    return [help.router, reports.router, report_followup.router, report_alerts.router, partners.router,
            partner_edit.router, partner_hide.router, digest.router,
            onboarding.router, profile.router, privacy.router, *meeting_routers, coop.router]


def command_menus(routes: Routes) -> dict[str, list[tuple[str, str]]]:
    """Menus of commands with their French help (Telegram's setMyCommands): referents' in private chats (the
    many; coordinators find theirs in /aide), coordinators' in groups."""
    def menu(role: str, is_group: bool) -> list[tuple[str, str]]:
        return [(c.name, t(c.help_key)) for c in routes.visible_commands(role, is_group=is_group)]

    return {"private": menu("referent", False), "group": menu("coordinator", True)}


class App:
    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 transports: Iterable[Transport] = (), routers: Sequence[Router] | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.routes = Routes(routers if routers is not None else feature_routers())
        self.transports: dict[str, Transport] = {t.platform: t for t in transports}
        for transport in self.transports.values():
            transport.set_commands(command_menus(self.routes), lasting_prompts=frozenset(self.routes.actions))
        self.metrics = Metrics()
        self.outbox = Outbox(self.sessions, self.transports, self.clock,
                             max_attempts=settings.outbox_max_attempts, metrics=self.metrics)
        self.dispatcher = Dispatcher(self.sessions, self.routes, self.clock, settings, self.outbox,
                                     self.transports, self.metrics)
        self.scheduler = Scheduler(self.sessions, self.engine, self.routes.jobs, self.clock, settings,
                                   on_enqueued=self.outbox.wake)

    async def prepare(self, *, load_communes: bool = True) -> None:
        """Migrate the schema, then seed the demo network when the database is empty and seeding is on.

        `relais run` passes load_communes=False: its warm_up() loads them once the bot answers."""
        await asyncio.to_thread(migrate, self.settings.database_url)
        if load_communes:  # ~0.4 s once, rather than in the first person's answer
            await asyncio.to_thread(communes)
        if self.settings.demo_seed:
            async with self.sessions() as session, session.begin():
                if await is_empty(session):
                    await seed_demo(session, self.clock.now())
                    if self.settings.demo_content:
                        await seed_demo_reports(session, self.clock.now())
                        await seed_demo_structures(session, self.clock.now())
                        await seed_demo_meetings(session, self.clock.now())
                    log.info("demo network seeded")

    async def warm_up(self) -> None:
        """What a first answer would otherwise wait for, loaded in the background once the bot answers (`relais
        run` starts it beside serve): the communes, the partner directory's density grid, the masking model (spaCy's
        French pipeline, seconds and about +200 MB, in a thread). A failure is logged: the part then loads on
        first use, as before."""
        from handlers.reports.masking_words import lexicon
        from storage.structures import density

        started = time.perf_counter()
        try:
            await asyncio.to_thread(communes)
            async with self.sessions() as session:
                await density(session)
            await asyncio.to_thread(lexicon)
        except Exception:
            log.exception("warm-up failed: the masking model loads on first use")
            return
        log.info("warm-up done in %.1f s (directory, masking model)", time.perf_counter() - started)

    async def serve(self, stop: asyncio.Event) -> None:
        """Run every transport, the outbox worker and the API until `stop` is set, then shut down cleanly."""
        tasks = [asyncio.create_task(self.outbox.run(stop, self.scheduler.leadership.acquire), name="outbox")]
        if self.settings.api_listen:
            from bot.api import serve

            tasks.append(asyncio.create_task(serve(self, self.settings.api_listen, stop.wait()), name="api"))
        for transport in self.transports.values():
            await transport.start(self.dispatcher.receive)
        self.scheduler.start()
        log.info("relais is running with: %s", ", ".join(self.transports) or "no adapter")
        await stop.wait()
        await self.dispatcher.drain()
        await self.scheduler.stop()
        await self.outbox.run_once()  # flush what is due while the adapters can still send
        for transport in self.transports.values():
            await transport.stop()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.scheduler.stop()
        await self.engine.dispose()
