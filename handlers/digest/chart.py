"""The digest's chart: reports per theme per week over the last 8 weeks, as a PNG readable on a phone."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLOURS = ("#000091", "#E1000F", "#18753C", "#B34000", "#6A6AF4", "#A558A0", "#009081", "#929292", "#3A3A3A")


def weekly_chart(rows: list[tuple[datetime, str, int]], labels: dict[str, str], tz: ZoneInfo, title: str) -> bytes:
    """A stacked bar per week, one colour per theme (the 4 biggest themes, the rest grouped as « Autres »)."""
    weeks = sorted({week for week, _, _ in rows})
    totals: defaultdict[str, int] = defaultdict(int)
    for _, theme, n in rows:
        totals[theme] += n
    main = [theme for theme, _ in sorted(totals.items(), key=lambda item: -item[1])[:4]]
    series: defaultdict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for week, theme, n in rows:
        series[theme if theme in main else "_other"][weeks.index(week)] += n
    figure, axes = plt.subplots(figsize=(8, 7), dpi=100)
    bottom = [0] * len(weeks)
    names = [week.astimezone(tz).strftime("%d/%m") for week in weeks]
    for colour, theme in zip(COLOURS, [*main, "_other"], strict=False):
        if theme not in series:
            continue
        axes.bar(names, series[theme], bottom=bottom, color=colour, label=labels.get(theme, "Autres thèmes"))
        bottom = [b + v for b, v in zip(bottom, series[theme], strict=True)]
    axes.set_title(title, fontsize=18)
    axes.set_ylabel("Signalements", fontsize=14)
    axes.tick_params(labelsize=13)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    if rows:
        axes.legend(fontsize=13, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
