"""The `relais` command line: run the bot, try it in a console, manage territories and invitations."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from bot.config import Settings
from bot.logs import setup_logging

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def parse_duration(text: str) -> timedelta:
    """« 14d », « 12h », « 30m » -> a duration."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError("durée attendue comme 14d, 12h ou 30m")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relais", description="Le bot des réseaux d'inclusion numérique.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    sub.add_parser("run", help="start the bot: every configured adapter, the scheduler and the HTTP API")
    console = sub.add_parser("console", help="talk to the bot in this terminal as a demo member")
    console.add_argument("--as", dest="as_", default="admin", metavar="ROLE",
                         help="admin (default), coordinator, referent, coordinator-971 or referent-971")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("db-check", help="fail when models and migrations disagree (CI)")
    backup = sub.add_parser("backup", help="save the database and RELAIS_DATA_DIR in one .tar.gz (bot running or not)")
    backup.add_argument("--output", metavar="FILE.tar.gz",
                        help="file, folder, or - for standard output (default: relais-backup-DATE.tar.gz here)")
    restore = sub.add_parser("restore", help="put back a backup made by `relais backup` (stop the bot first)")
    restore.add_argument("archive", metavar="FILE.tar.gz", help="the archive, or - for standard input")
    restore.add_argument("--force", action="store_true", help="replace a database or data folder that holds data")
    territory = sub.add_parser("territory", help="add or list territories (région, département, réseau local)")
    tsub = territory.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = tsub.add_parser("add", help="add a territory")
    add.add_argument("--code", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--parent")
    add.add_argument("--timezone", help="e.g. Europe/Paris, America/Guadeloupe (default: the parent's)")
    add.add_argument("--communes", default="", help="INSEE codes, comma-separated")
    tsub.add_parser("list", help="list territories")
    invite = sub.add_parser("invite", help="print a one-time invitation code for a new member")
    invite.add_argument("--role", choices=("referent", "coordinator", "admin"), required=True)
    invite.add_argument("--territory", required=True, metavar="CODE")
    invite.add_argument("--uses", type=int, default=1)
    invite.add_argument("--expires", type=parse_duration, default=timedelta(days=14), metavar="14d")
    token = sub.add_parser("token", help="API tokens for the coordinating service (create, list, revoke)")
    tok = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tok.add_parser("create", help="create a token (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--territory", required=True, metavar="CODE")
    create.add_argument("--scope", default="reports:read")
    create.add_argument("--expires", type=parse_duration, default=timedelta(days=365), metavar="365d")
    tok.add_parser("list", help="list tokens (never their value)")
    revoke = tok.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    audit = sub.add_parser("audit", help="show the audit log of coordinator and admin actions")
    audit.add_argument("--limit", type=int, default=50)
    structures = sub.add_parser("import-structures", help="import partner structures (Lieux de médiation "
                                "numérique CSV or JSON, data·inclusion JSON); a re-import updates them")
    structures.add_argument("file", metavar="FILE")
    structures.add_argument("--source", metavar="NAME",
                            help="name of the source (default: lmn or data-inclusion); rows upsert by (source, id)")
    when = sub.add_parser("when", help="read a French date (« jeudi 14h30 ») and print it as ISO 8601")
    when.add_argument("text")
    when.add_argument("--now", help="ISO date-time taken as now (default: the current time)")
    when.add_argument("--tz", default="Europe/Paris")
    reminders = sub.add_parser("reminders", help="run the scheduled jobs once as at --now (meeting reminders due "
                               "then are queued, each once) and print what was done; for support and tests")
    reminders.add_argument("--now", help="ISO date-time with its offset, e.g. 2026-03-11T14:00+01:00 "
                           "(default: the current time)")
    export = sub.add_parser("export", help="export for the national Coop de la médiation numérique")
    esub = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    coordination = esub.add_parser("coordination", help="« activités de coordination » (closed meetings), XLSX or CSV")
    coordination.add_argument("--since", required=True, metavar="AAAA-MM-JJ")
    coordination.add_argument("--until", metavar="AAAA-MM-JJ", help="excluded (default: now)")
    coordination.add_argument("--territory", metavar="CODE", help="a territory and the ones below (default: all)")
    coordination.add_argument("--format", choices=("xlsx", "csv"), default=None,
                              help="default: from --output's extension, else xlsx")
    coordination.add_argument("--output", metavar="FILE", help="default: activites-coordination.<format> here")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = Settings()
    setup_logging(settings, quiet=args.command in {"console", "when"})
    from bot.ops import cli

    handler: Command = getattr(cli, f"cmd_{args.command.replace('-', '_')}")
    try:
        sys.exit(asyncio.run(handler(args, settings)))
    except KeyboardInterrupt:
        sys.exit(130)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


if __name__ == "__main__":
    main()
