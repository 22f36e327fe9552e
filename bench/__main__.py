"""`make bench`: every benchmark side by side with its floor; a table on screen and bench/results.json."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.table import machine

# Each module exposes `async def run() -> list[dict]` with rows {"name","value","unit","floor","ratio","goal","ok"}.
# `python -m bench partners startup` runs some of them and replaces only their rows in bench/results.json.
MODULES = ("bench.partners", "bench.reports_scale", "bench.reminders", "bench.startup", "bench.telegram",
           "bench.multiprocess", "bench.matrix_latency", "bench.matrix_ratelimit")
RESULTS = Path(__file__).parent / "results.json"
MACHINE = Path(__file__).parent / "machine.json"  # what ran them (python -m bench.table shows it with the table)


async def collect(names: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in names:
        started = time.monotonic()
        print(f"… {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
            rows += [{**row, "module": name} for row in await module.run()]
        except Exception:
            traceback.print_exc()
            rows.append({"name": f"{name}: failed (see above)", "value": None, "unit": "", "floor": None,
                         "ratio": None, "goal": "runs", "ok": False, "module": name})
        print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        # Written after each module: an interrupted run keeps the figures of the modules it finished.
        done = names[:names.index(name) + 1]
        RESULTS.write_text(json.dumps(merged(rows, done), indent=2, ensure_ascii=False) + "\n")
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def fmt(value: Any) -> str:
        if value is None:
            return "—"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    header = ("benchmark", "value", "unit", "floor", "ratio", "goal", "ok")
    verdict = {True: "✔", False: "✘", None: "·"}  # ·: a figure printed for information, with no goal
    lines = [[r["name"], fmt(r["value"]), r["unit"], fmt(r["floor"]), fmt(r["ratio"]), str(r["goal"] or ""),
              verdict[r["ok"]]] for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=True)]
    render = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths]), *map(render, lines)])


def merged(fresh: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """bench/results.json with the rows of the modules just run replaced (`python -m bench partners` keeps the
    figures of the others), in MODULES order."""
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    rows = [r for r in kept if r.get("module") not in names] + fresh
    order = {name: i for i, name in enumerate(MODULES)}
    return sorted(rows, key=lambda r: order.get(r.get("module", ""), len(order)))


def main() -> None:
    names = [f"bench.{n}" for n in sys.argv[1:]] or list(MODULES)
    rows = asyncio.run(collect(names))
    print(table(rows))
    RESULTS.write_text(json.dumps(merged(rows, names), indent=2, ensure_ascii=False) + "\n")
    MACHINE.write_text(json.dumps(machine(), indent=2, ensure_ascii=False) + "\n")
    judged = [r for r in rows if r["ok"] is not None]
    print(f"\n{RESULTS} written ({sum(bool(r['ok']) for r in judged)}/{len(judged)} goals met).")


if __name__ == "__main__":
    main()
