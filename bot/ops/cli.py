"""What each `relais` subcommand does (the parser lives in bot/__main__.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.config import Settings
from bot.transport import Transport
from storage import audit
from storage.db import check_migrations, migrate
from storage.members import create_invitation
from storage.territories import TerritoryError, add_territory, all_territories, by_code
from storage.tokens import ApiToken, all_tokens, create_token

# The demo identities of `relais console --as …`, as the banner says them.
CONSOLE_ROLES = {"admin": "administrateur", "coordinator": "coordinateur", "referent": "référent",
                 "coordinator-971": "coordinateur en Guadeloupe", "referent-971": "référent en Guadeloupe"}


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def platform_transports(settings: Settings) -> list[Transport]:
    """The adapters whose credentials are set; imported only then (a missing library never blocks the rest)."""
    transports: list[Transport] = []
    if settings.telegram_enabled:
        from bot.adapters.telegram.adapter import TelegramTransport

        transports.append(TelegramTransport.from_settings(settings))
    if settings.matrix_enabled:
        from bot.adapters.matrix.adapter import MatrixTransport

        transports.append(MatrixTransport.from_settings(settings))
    return transports


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    transports = platform_transports(settings)
    if not transports and not settings.api_listen:  # nothing to serve: the embedded default, the console
        print("Aucune messagerie configurée (RELAIS_TELEGRAM_TOKEN, RELAIS_MATRIX_*) : mode console.",
              file=sys.stderr)
        logging.getLogger().setLevel(logging.WARNING)  # the conversation, not the logs, fills the terminal
        return await cmd_console(argparse.Namespace(as_="admin"), settings)
    if not transports:  # a service with its API (Docker, systemd): keep it and the scheduler up, say why
        print("Aucune messagerie configurée (RELAIS_TELEGRAM_TOKEN, RELAIS_MATRIX_*) : seuls l'API et les "
              "tâches planifiées tournent.", file=sys.stderr)
    app = App(settings, transports=transports)
    await app.prepare(load_communes=False)
    stop = asyncio.Event()
    install_stop_signals(stop)
    warm = asyncio.create_task(app.warm_up(), name="warm-up")  # ready first, the masking model meanwhile
    try:
        await app.serve(stop)
    finally:
        warm.cancel()
        await app.close()
    return 0


async def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.adapters.console import ConsoleTransport

    console = ConsoleTransport(args.as_, files_dir=settings.data_path / "exports")
    app = App(settings, transports=[console])
    await app.prepare()
    if sys.stdin.isatty():
        print(f"relais — console (vous êtes : {CONSOLE_ROLES.get(args.as_, args.as_)}). "
              "Tapez /aide ; Ctrl-D pour quitter.\n")
    stop = asyncio.Event()
    watcher = asyncio.create_task(_stop_when(console.finished, stop))
    try:
        await app.serve(stop)
    finally:
        watcher.cancel()
        await app.close()
    return 0


async def _stop_when(finished: asyncio.Event, stop: asyncio.Event) -> None:
    await finished.wait()
    stop.set()


@asynccontextmanager
async def prepared(settings: Settings) -> AsyncIterator[App]:
    """An App with its database migrated (and the demo seeded when empty), closed afterwards."""
    app = App(settings)
    await app.prepare()
    try:
        yield app
    finally:
        await app.close()


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    await asyncio.to_thread(migrate, settings.database_url)
    print("Base de données à jour.")
    return 0


async def cmd_db_check(args: argparse.Namespace, settings: Settings) -> int:
    await asyncio.to_thread(migrate, settings.database_url)
    await asyncio.to_thread(check_migrations, settings.database_url)
    print("Les migrations correspondent aux modèles.")
    return 0


async def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.clock import SystemClock
    from bot.i18n import t
    from bot.ops.backup import BackupError, create_backup

    try:
        done = await asyncio.to_thread(create_backup, settings, args.output, SystemClock().now())
    except BackupError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1
    m = done.manifest
    if done.path is None:  # the archive went to standard output: the summary must not mix with it
        print(t("backup.done_stream", database=m.database, files=m.data_files), file=sys.stderr)
    else:
        n = done.path.stat().st_size
        size = f"{n / 1e6:.1f} Mo".replace(".", ",") if n >= 1e6 else f"{max(n // 1000, 1)} ko"
        print(t("backup.done", path=done.path, size=size, database=m.database, files=m.data_files))
    return 0


async def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.i18n import t
    from bot.ops.backup import BackupError, restore_backup

    try:
        m = await asyncio.to_thread(restore_backup, settings, args.archive, force=args.force)
    except BackupError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1
    when = m.created_at[:16].replace("T", " à ") + " UTC"
    print(t("backup.restored", date=when, database=m.database, files=m.data_files))
    return 0


async def cmd_territory(args: argparse.Namespace, settings: Settings) -> int:
    try:
        async with prepared(settings) as app, app.sessions() as session, session.begin():
            if args.action == "list":
                for territory in await all_territories(session, with_communes=True):
                    listed = ",".join(c.insee for c in territory.communes)
                    print(f"{territory.code}\t{territory.name}\t{territory.timezone}\t{listed}")
                return 0
            communes = [c.strip() for c in args.communes.split(",") if c.strip()]
            territory = await add_territory(session, code=args.code, name=args.name, parent=args.parent,
                                            timezone=args.timezone, communes=communes, now=app.clock.now())
            await audit.record(session, now=app.clock.now(), action="territory.added", actor_label="cli",
                               target=territory.code)
            print(f"Territoire {territory.code} créé ({territory.name}, {territory.timezone}).")
            return 0
    except TerritoryError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1


async def cmd_invite(args: argparse.Namespace, settings: Settings) -> int:
    async with prepared(settings) as app:
        async with app.sessions() as session, session.begin():
            territory = await by_code(session, args.territory)
            if territory is None:
                print(f"Erreur : territoire {args.territory} inconnu (voir : relais territory list).",
                      file=sys.stderr)
                return 1
            new = await create_invitation(session, role=args.role, territory_id=territory.id,
                                          now=app.clock.now(), uses=args.uses, valid_for=args.expires)
            await audit.record(session, now=app.clock.now(), action="invitation.created", actor_label="cli",
                               target=territory.code, role=args.role, uses=args.uses)
        print(new.code)
        print(f"À envoyer au bot : /start {new.code}  (valable jusqu'au "
              f"{new.invitation.expires_at:%d/%m/%Y}, {args.uses} utilisation(s))", file=sys.stderr)
        link = await deep_link(settings, new.code)
        if link:
            print(f"Lien Telegram : {link}", file=sys.stderr)
        return 0


async def deep_link(settings: Settings, code: str) -> str:
    """https://t.me/<bot>?start=CODE once Telegram is configured (asks the Bot API for the bot's name)."""
    if not settings.telegram_enabled:
        return ""
    from bot.adapters.telegram.adapter import bot_username

    try:
        username = await bot_username(settings)
    except Exception:
        return ""
    return f"https://t.me/{username}?start={code.replace('-', '')}"


async def cmd_when(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import quick

    return quick.when(args)


async def cmd_mask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import quick

    return quick.mask(args)


async def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    async with prepared(settings) as app, app.sessions() as session, session.begin():
        return await TOKEN_ACTIONS[args.action](session, args, app.clock.now())


async def _token_create(session: AsyncSession, args: argparse.Namespace, now: datetime) -> int:
    territory = await by_code(session, args.territory)
    if territory is None:
        print(f"Erreur : territoire {args.territory} inconnu (voir : relais territory list).", file=sys.stderr)
        return 1
    scopes = tuple(s.strip() for s in args.scope.split(",") if s.strip())
    try:
        new = await create_token(session, name=args.name, territory_id=territory.id, scopes=scopes, now=now,
                                 expires_at=now + args.expires)
    except ValueError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1
    await audit.record(session, now=now, action="token.created", actor_label="cli", target=territory.code,
                       token_id=new.row.id)
    print(new.token)
    print(f"Jeton n°{new.row.id} « {args.name} » pour {territory.code}, valable jusqu'au "
          f"{new.row.expires_at:%d/%m/%Y}. Il ne sera plus affiché : conservez-le.", file=sys.stderr)
    return 0


async def _token_list(session: AsyncSession, args: argparse.Namespace, now: datetime) -> int:
    codes = {territory.id: territory.code for territory in await all_territories(session)}
    for row in await all_tokens(session):
        state = "révoqué" if row.revoked_at else "expiré" if row.expires_at and row.expires_at <= now else "actif"
        expires = f"{row.expires_at:%d/%m/%Y}" if row.expires_at else "jamais"
        print(f"{row.id}\t{row.name}\t{row.hint}…\t{codes.get(row.territory_id, '?')}\t"
              f"{row.scopes.replace(' ', ',')}\t{expires}\t{state}")
    return 0


async def _token_revoke(session: AsyncSession, args: argparse.Namespace, now: datetime) -> int:
    row = await session.get(ApiToken, args.id)
    if row is None:
        print(f"Erreur : pas de jeton n°{args.id}.", file=sys.stderr)
        return 1
    row.revoked_at = row.revoked_at or now
    await audit.record(session, now=now, action="token.revoked", actor_label="cli", token_id=row.id)
    print(f"Jeton n°{row.id} révoqué.")
    return 0


TOKEN_ACTIONS = {"create": _token_create, "list": _token_list, "revoke": _token_revoke}


async def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Newest first: when, who (member id or cli), what, on what; never names or message text."""
    async with prepared(settings) as app, app.sessions() as session:
        for entry in await audit.recent(session, args.limit):
            details = " ".join(f"{k}={v}" for k, v in sorted(entry.details.items()))
            print(f"{entry.at:%Y-%m-%d %H:%M:%S}Z\t{entry.actor_label}\t{entry.action}\t{entry.target}\t{details}")
    return 0


async def cmd_import_structures(args: argparse.Namespace, settings: Settings) -> int:
    """Upsert a file of structures in one transaction, with a progress bar on a terminal and a summary."""
    from pathlib import Path

    from bot.i18n import t
    from handlers.partners.imports import failure_lines, summary_lines, unreadable
    from storage.structure_import import import_file

    path = Path(args.file)
    if not path.is_file():
        print(t("partners.import_not_found", path=path), file=sys.stderr)
        return 1
    try:
        async with prepared(settings) as app, app.sessions() as session, session.begin():
            with _progress_bar() as progress:
                report = await import_file(session, path, app.clock.now(), source=args.source, progress=progress)
    except (ValueError, UnicodeDecodeError) as error:  # JSON and CSV that cannot be read at all
        print(unreadable(error), file=sys.stderr)
        return 1
    print("\n".join(summary_lines(report)))
    if report.all_rejected:
        print("\n".join(failure_lines(report)), file=sys.stderr)
        return 1
    if report.total == 0:  # an empty file, or one of another kind: say so rather than a row of zeros
        print(t("partners.import_nothing", path=path), file=sys.stderr)
        return 1
    return 0


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


async def cmd_reminders(args: argparse.Namespace, settings: Settings) -> int:
    """Run the scheduled jobs once as at --now; print the reminders handled, and the console members' messages."""
    import io
    from datetime import UTC

    from bot.adapters.console import ConsoleTransport
    from bot.clock import FrozenClock
    from bot.i18n import t

    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        now = None
    if now is None or now.utcoffset() is None:
        print(t("meetings.cli_bad_now", now=args.now), file=sys.stderr)
        return 2
    console = ConsoleTransport("reminders", stdin=io.StringIO(), files_dir=settings.data_path / "exports",
                               everyone=True)
    app = App(settings, clock=FrozenClock(now), transports=[console])
    await app.prepare()
    try:
        await app.scheduler.tick()
        if not app.scheduler.leadership.is_leader:
            print(t("meetings.cli_not_leader"), file=sys.stderr)
            return 1
        await app.outbox.run_once()  # console members' messages (the demo); other platforms: the running bot
        async with app.sessions() as session:
            lines = await _reminders_report(session, now)
        print("\n".join(lines) or t("meetings.cli_nothing", now=now.isoformat()))
        return 0
    finally:
        await app.scheduler.stop()
        await app.close()


async def _reminders_report(session: AsyncSession, now: datetime) -> list[str]:
    from bot.i18n import t
    from handlers.dates.french import format_when
    from handlers.meetings.messages import offset_label
    from storage.meetings import Meeting, reminders_handled_at

    lines = []
    for batch in await reminders_handled_at(session, now):
        meeting = await session.get(Meeting, batch.meeting_id)
        assert meeting is not None
        lines.append(t("meetings.cli_line", meeting=meeting.id, when=format_when(batch.starts_at, meeting.tz),
                       offset=offset_label(batch.offset_code), outcome=t(f"meetings.cli_outcome_{batch.outcome}"),
                       recipients=batch.recipients))
    return lines


async def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """`relais export coordination --since …`: the Coop's « activités de coordination » as a file."""
    from datetime import UTC
    from pathlib import Path

    from storage.coop_export import coordination_rows, to_csv, to_xlsx
    from storage.territories import subtree_ids

    def aware(text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    try:
        since, until = aware(args.since), aware(args.until) if args.until else None
    except ValueError:
        print("Erreur : date attendue au format AAAA-MM-JJ (par exemple 2026-01-01).", file=sys.stderr)
        return 2
    fmt = args.format or ("csv" if args.output and args.output.endswith(".csv") else "xlsx")
    output = Path(args.output or f"activites-coordination.{fmt}")
    async with prepared(settings) as app, app.sessions() as session:
        if args.territory:
            territory = await by_code(session, args.territory)
            if territory is None:
                print(f"Erreur : territoire {args.territory} inconnu (voir : relais territory list).", file=sys.stderr)
                return 1
            ids = await subtree_ids(session, territory.id)
        else:
            ids = [x.id for x in await all_territories(session)]
        rows = await coordination_rows(session, ids, since, until or app.clock.now())
    output.write_bytes(to_csv(rows) if fmt == "csv" else to_xlsx(rows))
    print(f"{len(rows)} activité(s) de coordination écrite(s) dans {output} (format de la Coop de la médiation "
          f"numérique).")
    return 0
