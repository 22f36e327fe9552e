"""`relais commune "TEXT" [--territory CODE] [--json]`: the matcher's decision, for support and tests.

Self-contained and quick: it loads the communes and the French texts, never the application or the database."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Declare the subcommand on the `relais` parser."""
    commune = sub.add_parser("commune", help="show how a typed commune is understood: sure, asked about, or not found")
    commune.add_argument("text")
    commune.add_argument("--territory", metavar="CODE", default="",
                         help="the asker's territory: a département (35, 971) or INSEE codes (35115,35047)")
    commune.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the decision; exit 0 (the decision itself says when nothing was found)."""
    from storage.commune_match import Territory, match

    codes = [code.strip() for code in args.territory.split(",") if code.strip()]
    found = match(args.text, Territory.of(codes) if codes else Territory())
    shown = [found.commune] if found.commune is not None else list(found.candidates)
    if args.json:
        rows = [{"insee": c.insee, "name": c.name, "departement": c.departement, "lat": c.lat, "lon": c.lon}
                for c in shown]
        print(json.dumps({"decision": found.decision, "communes": rows}, ensure_ascii=False))
        return 0
    print(_text(args.text, found.decision, [f"{c.label} · {c.insee}" for c in shown], found))
    return 0


def _text(typed: str, decision: str, lines: list[str], found: object) -> str:
    from bot.i18n import t
    from handlers.places import which

    if decision == "none":
        return t("places.cli_none", text=typed.strip())
    if decision == "sure":
        return t("places.cli_sure", commune=lines[0])
    return "\n".join([which(found), *(f"{n}. {line}" for n, line in enumerate(lines, 1))])  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    """Run as `python -m bot.ops.commune` too."""
    parser = argparse.ArgumentParser(prog="relais")
    add_parser(parser.add_subparsers(dest="command", required=True))
    sys.exit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
