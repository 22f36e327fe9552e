"""Support commands that need neither the database nor the application: `relais when`, `relais mask`.

Imported alone by bot/__main__.py (no settings, no SQLAlchemy, no adapters), so they answer in a fraction of a
second; `relais commune` is its sibling in bot/ops/commune.py."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime


def when(args: argparse.Namespace) -> int:
    """A French date read as ISO 8601 on stdout, or the French reason on stderr."""
    from handlers.dates.french import when_command

    code, line = when_command(args.text, args.now, args.tz)
    print(line, file=sys.stdout if code == 0 else sys.stderr)
    return code


def mask(args: argparse.Namespace) -> int:
    """The text exactly as a description would be stored, then on stderr what was masked."""
    from handlers.reports.masking import mask as masked_text

    masked = masked_text(args.text, current_year=datetime.now().astimezone().year)
    print(masked.text)
    print(f"Masqué : {masked.summary()}." if masked.kinds else "Rien à masquer.", file=sys.stderr)
    return 0
