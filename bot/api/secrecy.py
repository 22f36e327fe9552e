"""Statistical secrecy of /stats: small cells hidden, and enough others with them that no total reveals them.

Primary suppression hides every count below the threshold. Complementary suppression then works along each
dimension of the table: within a line (the cells that share every other group value), a hidden cell must never be
alone, and the hidden cells together must reach the threshold; otherwise the smallest visible cell of that line
is hidden too. A total from another query (the line's marginal) then leaves several unknowns, not one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

Key = tuple[Any, ...]


def hidden_cells(counts: dict[Key, int], dimensions: int, threshold: int) -> set[Key]:
    """The keys whose count must not be shown (primary and complementary suppression)."""
    hidden = {key for key, n in counts.items() if n < threshold}
    changed = bool(hidden)
    while changed:
        changed = False
        for dim in range(dimensions):
            for line in _lines(counts, dim):
                changed |= _protect(line, counts, hidden, threshold)
    return hidden


def _lines(counts: dict[Key, int], dim: int) -> list[list[Key]]:
    """Cells grouped by every value but the one of `dim` (with one dimension: the whole table is one line)."""
    lines: defaultdict[Key, list[Key]] = defaultdict(list)
    for key in counts:
        lines[key[:dim] + key[dim + 1:]].append(key)
    return list(lines.values())


def _protect(line: Sequence[Key], counts: dict[Key, int], hidden: set[Key], threshold: int) -> bool:
    changed = False
    while True:
        masked = [k for k in line if k in hidden]
        visible = sorted((k for k in line if k not in hidden), key=lambda k: (counts[k], repr(k)))
        exposed = masked and (len(masked) == 1 or sum(counts[k] for k in masked) < threshold)
        if not exposed or not visible:
            return changed
        hidden.add(visible[0])
        changed = True


def table(groups: Sequence[str], rows: Sequence[tuple[Any, ...]], threshold: int) -> list[dict[str, Any]]:
    """Rows (group values…, count) as JSON cells, hidden ones as {"count": null, "suppressed": true}."""
    counts = {tuple(row[:-1]): int(row[-1]) for row in rows}
    hidden = hidden_cells(counts, len(groups), threshold)
    cells = []
    for key, count in counts.items():
        values = dict(zip(groups, key, strict=True))
        cells.append({**values, "count": None, "suppressed": True} if key in hidden else {**values, "count": count})
    return cells
