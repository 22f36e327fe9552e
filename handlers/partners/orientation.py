"""« Fiche d'orientation »: one place on a phone-sized card the referent forwards to the person they help — as
text, and as a PNG picture. Only the place's public details: nothing about the person or the referent."""

from __future__ import annotations

import io
import re
import textwrap
from urllib.parse import quote_plus

from unidecode import unidecode

from bot.events import Attachment
from bot.i18n import t
from handlers.partners.cards import hours_text, kind_label, map_url, phone_text, welcome_line
from storage.structures import Structure

SEARCH_URL = "https://www.openstreetmap.org/search?query={query}"
WIDTH_IN, DPI = 4.0, 150  # 600 px wide: a phone screen
WRAP = 38  # characters per line on the picture


def where_to_find(structure: Structure) -> str:
    """The map link: the exact point when known, else an OpenStreetMap search of the address."""
    exact = map_url(structure)
    if exact:
        return exact
    address = " ".join(p for p in (structure.address, structure.postal_code, structure.commune) if p)
    return SEARCH_URL.format(query=quote_plus(address))


def lines(structure: Structure) -> list[tuple[str, str]]:
    """(label, value) pairs of the card, empty ones left out."""
    address = ", ".join(p for p in (structure.address, structure.address_extra,
                                    f"{structure.postal_code} {structure.commune}".strip()) if p)
    welcome = welcome_line(structure).split(" : ", 1)[-1] if welcome_line(structure) else ""
    pairs = [(t("partners.sheet_kind"), kind_label(structure)), (t("partners.sheet_address"), address),
             (t("partners.sheet_phone"), phone_text(structure.phone) if structure.phone else ""),
             (t("partners.sheet_hours"), hours_text(structure.hours) if structure.hours else ""),
             (t("partners.sheet_welcome"), welcome), (t("partners.sheet_bring"), structure.bring),
             (t("partners.sheet_booking"), structure.booking if structure.booking.startswith("http") else ""),
             (t("partners.sheet_map"), where_to_find(structure))]
    return [(label, value) for label, value in pairs if value]


def sheet_text(structure: Structure) -> str:
    """The card as a message (safe markup: bold title, one « label : value » per line)."""
    body = [f"{label} : {value}" for label, value in lines(structure)]
    return "\n".join([t("partners.sheet_title"), f"**{structure.name}**", *body, f"_{t('partners.sheet_footer')}_"])


def sheet_png(structure: Structure) -> bytes:
    """The same card drawn as a picture (matplotlib, no window system): phone width, height as needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # loaded on first card, not at every start
    from matplotlib.figure import Figure

    rows: list[tuple[str, float, str]] = [(t("partners.sheet_title").strip("*"), 11, "bold")]
    rows += [(part, 14, "bold") for part in textwrap.wrap(structure.name, WRAP - 8)]
    for label, value in lines(structure):
        rows.append((label, 9, "bold"))
        rows += [(part, 10, "normal") for part in textwrap.wrap(value, WRAP, break_long_words=True)]
    rows.append((t("partners.sheet_footer"), 8, "normal"))
    height = 0.6 + sum(size / 72 * 1.6 for _, size, _ in rows)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    y = height - 0.3
    for text, size, weight in rows:
        y -= size / 72 * 1.6
        figure.text(0.25 / WIDTH_IN, y / height, text, fontsize=size, fontweight=weight, color="#1a1a1a")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def sheet_attachment(structure: Structure) -> Attachment:
    slug = re.sub(r"[^a-z0-9]+", "-", unidecode(structure.name).lower()).strip("-")[:40] or "lieu"
    return Attachment(f"fiche-{slug}.png", "image/png", sheet_png(structure))
