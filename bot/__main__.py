"""The `relais` command line: run the bot, try it in a console, manage territories and invitations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.ops import commune, french_cli

if TYPE_CHECKING:

    from bot.config import Settings

# Imported lazily: `relais when`, `relais mask` and `relais commune` answer without the settings (pydantic),
# SQLAlchemy or the application (≈ 0.8 s of imports), see bot/ops/quick.py.
Command = Callable[[argparse.Namespace, "Settings"], Coroutine[Any, Any, int]]
QUICK = ("when", "mask")


MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """« 14d », « 12h », « 30m » -> a duration (ten years at most: a date past that overflows)."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isascii() or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError("durée attendue comme 14d, 12h ou 30m")
    if len(text) > 12 or timedelta(**{units[text[-1]]: int(text[:-1])}) > MAX_DURATION:
        raise argparse.ArgumentTypeError("durée trop longue : 3650d (dix ans) au plus")
    duration = timedelta(**{units[text[-1]]: int(text[:-1])})
    if not duration:
        raise argparse.ArgumentTypeError("durée nulle : au moins 1m")
    return duration


def positive_count(text: str) -> int:
    """A number of uses or of lines: 1 or more (« --uses 0 » would print a code that can never work)."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError("nombre entier attendu, de 1 à 10000")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    french_cli.install()
    parser = argparse.ArgumentParser(prog="relais", description="Le bot des réseaux d'inclusion numérique.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    sub.add_parser("run", help="démarrer le bot : messageries configurées, tâches planifiées et API HTTP")
    console = sub.add_parser("console", help="parler au bot dans ce terminal, comme un membre de démonstration")
    console.add_argument("--as", dest="as_", default="admin", metavar="ROLE",
                         help="admin (par défaut), coordinator, referent, coordinator-971 ou referent-971")
    sub.add_parser("migrate", help="mettre à jour le schéma de la base de données")
    sub.add_parser("db-check", help="échouer si les modèles et les migrations divergent (CI)")
    backup = sub.add_parser("backup", help="sauvegarder la base et RELAIS_DATA_DIR dans un .tar.gz (bot lancé ou non)")
    backup.add_argument("--output", metavar="FICHIER.tar.gz",
                        help="fichier, dossier, ou - pour la sortie standard "
                        "(par défaut : relais-backup-DATE.tar.gz ici)")
    restore = sub.add_parser("restore", help="remettre une sauvegarde faite par `relais backup` (arrêtez le bot avant)")
    restore.add_argument("archive", metavar="FICHIER.tar.gz", help="l'archive, ou - pour l'entrée standard")
    restore.add_argument("--force", action="store_true",
                         help="remplacer une base ou un dossier de données qui en contient déjà")
    territory = sub.add_parser("territory", help="ajouter ou lister les territoires (région, département, "
                               "réseau local)")
    tsub = territory.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = tsub.add_parser("add", help="ajouter un territoire")
    add.add_argument("--code", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--parent")
    add.add_argument("--timezone", help="ex. Europe/Paris, America/Guadeloupe (par défaut : celui du parent)")
    add.add_argument("--communes", default="", help="codes INSEE, séparés par des virgules")
    tsub.add_parser("list", help="lister les territoires")
    invite = sub.add_parser("invite", help="afficher un code d'invitation pour un nouveau membre")
    invite.add_argument("--role", choices=("referent", "coordinator", "admin"), required=True)
    invite.add_argument("--territory", required=True, metavar="CODE")
    invite.add_argument("--uses", type=positive_count, default=1, help="nombre d'utilisations (1 par défaut)")
    invite.add_argument("--expires", type=parse_duration, default=timedelta(days=14), metavar="14d")
    token = sub.add_parser("token", help="jetons de l'API du service de coordination (create, list, revoke)")
    tok = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tok.add_parser("create", help="créer un jeton (affiché une seule fois)")
    create.add_argument("--name", required=True)
    create.add_argument("--territory", required=True, metavar="CODE")
    create.add_argument("--scope", default="stats", help="portées séparées par des virgules : stats (par défaut), "
                        "reports")
    create.add_argument("--expires", type=parse_duration, default=timedelta(days=365), metavar="365d")
    tok.add_parser("list", help="lister les jetons (jamais leur valeur)")
    revoke = tok.add_parser("revoke", help="révoquer un jeton par son numéro")
    revoke.add_argument("id", type=int)
    audit = sub.add_parser("audit", help="afficher le journal des actions des coordinateurs et administrateurs")
    audit.add_argument("--limit", type=positive_count, default=50, help="nombre de lignes (50 par défaut)")
    structures = sub.add_parser("import-structures", help="importer des structures partenaires (Lieux de médiation "
                                "numérique CSV ou JSON, data·inclusion JSON) ; un nouvel import les met à jour")
    structures.add_argument("file", metavar="FICHIER")
    structures.add_argument("--source", metavar="NOM",
                            help="nom de la source (par défaut : lmn ou data-inclusion) ; une ligne est mise à jour "
                            "par (source, id)")
    when = sub.add_parser("when", help="lire une date en français (« jeudi 14h30 ») et l'afficher en ISO 8601")
    when.add_argument("text", metavar="TEXTE")
    when.add_argument("--now", help="date-heure ISO prise comme maintenant (par défaut : l'heure actuelle)")
    when.add_argument("--tz", default="Europe/Paris", help="fuseau horaire (Europe/Paris par défaut)")
    masking = sub.add_parser("mask", help="afficher un texte tel qu'il serait enregistré, données personnelles "
                             "masquées (support)")
    masking.add_argument("text", metavar="TEXTE", help="le texte à masquer, entre guillemets")
    reminders = sub.add_parser("reminders", help="lancer une fois les tâches planifiées comme à --now (les rappels "
                               "de réunion dus partent, chacun une fois) et afficher ce qui est fait ; "
                               "pour le support et les tests")
    reminders.add_argument("--now", help="date-heure ISO avec son décalage, ex. 2026-03-11T14:00+01:00 "
                           "(par défaut : l'heure actuelle)")
    commune.add_parser(sub)
    export = sub.add_parser("export", help="exporter pour la Coop de la médiation numérique")
    esub = export.add_subparsers(dest="what", required=True, metavar="QUOI")
    coordination = esub.add_parser("coordination", help="« activités de coordination » (réunions clôturées), "
                                   "XLSX ou CSV")
    coordination.add_argument("--since", required=True, metavar="AAAA-MM-JJ", help="à partir de ce jour")
    coordination.add_argument("--until", metavar="AAAA-MM-JJ", help="jusqu'à ce jour exclu (par défaut : maintenant)")
    coordination.add_argument("--territory", metavar="CODE", help="un territoire et ceux en dessous (par défaut : "
                              "tous)")
    coordination.add_argument("--format", choices=("xlsx", "csv"), default=None,
                              help="par défaut : d'après l'extension de --output, sinon xlsx")
    coordination.add_argument("--output", metavar="FICHIER", help="par défaut : activites-coordination.<format> ici")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "commune":  # quick: neither the application nor the database
        sys.exit(commune.run(args))
    if args.command in QUICK:
        from bot.ops import quick

        sys.exit(getattr(quick, args.command)(args))
    import asyncio

    from bot.config import Settings
    from bot.logs import setup_logging

    settings = Settings()
    setup_logging(settings, quiet=args.command == "console")
    from bot.ops import cli

    handler: Command = getattr(cli, f"cmd_{args.command.replace('-', '_')}")
    try:
        sys.exit(asyncio.run(handler(args, settings)))
    except KeyboardInterrupt:
        sys.exit(130)



if __name__ == "__main__":
    main()
