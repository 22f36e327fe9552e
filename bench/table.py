"""`python -m bench.table`: README's figures table, regenerated from bench/results.json and bench/machine.json.

Writes the table between the two marker lines of README.md (`<!-- bench:table -->` … `<!-- /bench:table -->`),
or prints it with `--print`. Never edit the table by hand: run `make bench` (or `python -m bench NAME`), then this.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS, MACHINE = HERE / "results.json", HERE / "machine.json"
README = HERE.parent / "README.md"
START, END = "<!-- bench:table -->", "<!-- /bench:table -->"
VERDICT = {True: "oui", False: "**non**", None: ""}


def machine() -> dict[str, Any]:
    """What ran the figures: cores, memory, processor, Python and PostgreSQL versions, load."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    return {"cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 ** 2), "cpu": model,
            "python": platform.python_version(), "postgresql": _postgres_version(), "system": platform.platform(),
            "load": round(os.getloadavg()[0], 1)}


def _postgres_version() -> str:
    try:
        from tests.servers.postgres import find_bindir

        out = subprocess.run([str(find_bindir() / "postgres"), "--version"], capture_output=True, text=True,
                             check=True).stdout
    except Exception:
        return "?"
    found = re.search(r"\d+(?:\.\d+)*", out)
    return found.group(0) if found else "?"


def number(value: Any) -> str:
    """French notation: « 1 234,5 »; None as « — »."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}".rstrip(
        "0").rstrip(".")
    return text.replace(",", "\u202f").replace(".", ",")


def render(rows: list[dict[str, Any]], box: dict[str, Any]) -> str:
    lines = [f"Machine : {box.get('cores', '?')} cœurs ({box.get('cpu', '?')}), {box.get('memory_gb', '?')} Go de "
             f"mémoire, Python {box.get('python', '?')}, PostgreSQL {box.get('postgresql', '?')}, charge moyenne "
             f"{number(box.get('load'))} pendant la mesure (machine partagée : les valeurs absolues varient, les "
             "rapports au plancher de la même exécution comptent).", "",
             "| mesure | valeur | unité | plancher | rapport | objectif | atteint |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = (r["name"].strip(), number(r["value"]), r["unit"], number(r["floor"]), number(r["ratio"]),
                 str(r["goal"] or ""), VERDICT[r["ok"]])
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    rows = json.loads(RESULTS.read_text())
    box = json.loads(MACHINE.read_text()) if MACHINE.exists() else machine()
    text = render(rows, box)
    if "--print" in sys.argv:
        print(text)
        return
    readme = README.read_text()
    if START not in readme or END not in readme:
        sys.exit(f"{README}: the markers {START} and {END} are missing")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    print(f"{README}: table of {len(rows)} figures written")


if __name__ == "__main__":
    main()
