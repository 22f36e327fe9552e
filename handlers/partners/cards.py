"""One partner as a short card for a phone screen: name, type, address, phone, hours, services, map link."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers

from bot.i18n import has, t
from bot.markup import literal
from storage.structures import Hit, Structure, open_state, parse_hours, unpack, zone_of
from storage.themes import themes

_DAY = re.compile(r"\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)\b")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
OSM = "https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"


def kind_label(structure: Structure) -> str:
    """The types of the place in words (« Tiers-lieu · Association »); a code we have no word for is left out."""
    labels = [t(f"partners.kind_{code}") for code in structure.kind_codes if has(f"partners.kind_{code}")]
    return " · ".join(dict.fromkeys(labels))


def hours_text(hours: str) -> str:
    """OpenStreetMap hours in French words: « Mo-Fr 09:00-12:30 » -> « lun.-ven. 9h-12h30 »."""
    if parse_hours(hours) is None:
        return hours
    short = dict(zip(_DAYS, t("partners.day_short").split("|"), strict=True))
    short["PH"] = t("partners.hours_holidays")
    text = _DAY.sub(lambda m: short[m.group(1)], hours)
    text = _TIME.sub(lambda m: f"{int(m.group(1))}h{m.group(2) if m.group(2) != '00' else ''}", text)
    text = re.sub(r"\b(off|closed)\b", t("partners.hours_off"), text)
    return text.replace(",", ", ").replace(";", " ;").replace("  ", " ")


def phone_text(raw: str) -> str:
    """+33299001234 -> 02 99 00 12 34; other spellings are shown as typed."""
    if not raw.startswith("+"):
        return raw
    try:
        return phonenumbers.format_number(phonenumbers.parse(raw), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return raw


def map_url(structure: Structure) -> str:
    if not structure.precise or structure.lat is None or structure.lon is None:
        return ""
    return OSM.format(lat=structure.lat, lon=structure.lon)


def where_line(hit: Hit) -> str:
    """« Médiathèque · Romagné · à 1,2 km »."""
    km = f"{hit.distance_km:.1f}".replace(".", ",") if hit.distance_km is not None else ""
    if not hit.structure.precise:  # placed at its commune's centre: say so rather than a false precision
        distance = t("partners.position_about") if hit.in_commune or not km else t("partners.distance_about", km=km)
    else:
        distance = t("partners.distance", km=km) if km else ""
    parts = (kind_label(hit.structure), hit.structure.commune, distance)
    return " · ".join(p for p in parts if p)


def status(structure: Structure, now: datetime, tz: ZoneInfo) -> str:
    state = open_state(structure.hours, now, zone_of(structure.departement))
    return "" if state is None else t("partners.open_now" if state else "partners.closed_now")


def hours_line(structure: Structure, now: datetime, tz: ZoneInfo) -> str:
    if not structure.hours:
        return t("partners.hours_unknown")
    state = status(structure, now, tz)
    return t("partners.hours", hours=hours_text(structure.hours)) + (f" — _{state}_" if state else "")


def tag_label(tag: str) -> str:
    """« acc:surdite » -> « sourds et malentendants »."""
    key = "partners.tag_" + tag.replace(":", "_")
    return t(key) if has(key) else tag


SHOWN_TAGS = ("acc:surdite", "acc:moteur", "acc:visuel", "acc:illettrisme", "acc:mental", "lang:en", "lang:autres",
              "fee:gratuit", "fee:condition", "fee:payant", "acces:presenter", "rdv")


def welcome_line(structure: Structure) -> str:
    """« Accueil : sourds et malentendants · anglais · gratuit · sans rendez-vous », from the imported fields."""
    tags = set(unpack(structure.tags))
    labels = [tag_label(tag) for tag in SHOWN_TAGS if tag in tags]
    return t("partners.welcome", what=" · ".join(labels)) if labels else ""


def services_line(structure: Structure) -> str:
    labels = [theme.short for theme_id in structure.service_ids if (theme := themes().service(theme_id))]
    return t("partners.services", services=", ".join(labels)) if labels else ""


def card(number: int, hit: Hit, now: datetime, tz: ZoneInfo) -> str:
    """The lines of one result, empty ones left out."""
    s = hit.structure
    address = ", ".join(p for p in (s.address, f"{s.postal_code} {s.commune}".strip()) if p)
    booking = t("partners.booking", url=s.booking) if s.booking.startswith("http") else ""
    lines = [t("partners.card_title", number=number, name=literal(s.name)), where_line(hit), address,
             t("partners.phone", phone=phone_text(s.phone)) if s.phone else "", hours_line(s, now, tz),
             welcome_line(s), services_line(s), booking, t("partners.map", url=url) if (url := map_url(s)) else "",
             f"_{t('partners.local_mark')}_" if s.local else "", f"_{t('partners.missing_mark')}_" if s.missing else ""]
    return "\n".join(line for line in lines if line)
