"""Opening hours as people type them (« lu-ve 9h-12h, sa 10h-12h », « du lundi au vendredi de 9h à 12h »,
« sur rendez-vous »): read into OpenStreetMap `opening_hours`, and said back in French to be confirmed.

The text is cut into day groups and time groups, in the order typed; each day group takes the times next to it
(before or after: « 9h-12h du mardi au samedi » as well as « mardi-samedi 9h-12h »). Whatever is not understood
makes the whole answer refused rather than half read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from unidecode import unidecode

from bot.i18n import t
from handlers.partners.cards import hours_text
from storage.structures import parse_hours

OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
PH = 7  # public holidays, after the week's days
APPOINTMENT = "sur rendez-vous"
_DAY_WORDS = {
    0: "lundi lundis lun lu", 1: "mardi mardis mar ma", 2: "mercredi mercredis mer me", 3: "jeudi jeudis jeu je",
    4: "vendredi vendredis ven ve", 5: "samedi samedis sam sa", 6: "dimanche dimanches dim di",
    PH: "feries ferie jours feries jf",
}
DAY_OF = {word: day for day, words in _DAY_WORDS.items() for word in words.split()}
_SHORT = frozenset(w for w in DAY_OF if len(w) == 2)  # « lu », « ma »: days only beside a dash or a time
_GROUPS = {"semaine": (0, 1, 2, 3, 4), "week end": (5, 6), "weekend": (5, 6)}  # others: every day
_TIME = (r"(?:(?P<hh>\d{1,2})\s*(?:heures?|h|:)(?:\s?(?P<mm>\d{2})(?!\s*h))?|midi|minuit"
         r"|(?P<bare>\d{1,2})(?![\d/]))")
_TOKEN = re.compile(
    r"(?P<group>en semaine|week[\s-]?end|tous les jours|7 ?j ?/ ?7|7 jours sur 7)"
    rf"|(?P<time>{_TIME})|(?P<word>[a-z]+)|(?P<dash>-|–|—)|(?P<sep>[;,/+&])")
_PARTS_OF_DAY = re.compile(r"\bapres[\s-]*midi\b|\bmatin(?:s|ee)?\b|\bsoir(?:s|ee)?\b|\bjournee\b")
_APPOINTMENT = re.compile(r"\b(?:sur|avec|uniquement sur|seulement sur)\s+(?:rendez[\s-]*vous|rdv)\b|\brdv\b")
_FILLERS = ("de du le les la l d et a au aux jusqu jusqua puis ouvert ouverte ouverts horaires horaire heures h "
            "uniquement seulement sauf ferme fermes fermee fermeture tous chaque accueil permanence permanences "
            "public ouverture")
_IGNORED = frozenset(_FILLERS.split())


@dataclass
class Rule:
    """Days (0 = Monday … 6 = Sunday, 7 = public holidays) and their (start, end) minutes; no times: closed."""

    days: list[int] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Hours:
    osm: str  # validated OpenStreetMap opening_hours
    rules: tuple[Rule, ...]
    appointment: bool


def _minutes(match: re.Match[str]) -> tuple[int | None, bool]:
    """(minutes since midnight, written as an hour « 9h »/« 9:30 » rather than a bare number)."""
    text = match.group("time")
    if text == "midi":
        return 12 * 60, True
    if text == "minuit":
        return 24 * 60, True
    hour, minute, bare = match.group("hh"), match.group("mm"), match.group("bare")
    value = int(hour or bare) * 60 + int(minute or 0)
    return (value if 0 <= value <= 24 * 60 and int(minute or 0) < 60 else None), bare is None


def _tokens(text: str) -> list[tuple[str, object]] | None:
    """(kind, value): ("day", n), ("days", tuple), ("time", (minutes, strong)), ("dash"|"sep"|"word", text).
    None when a word is neither a day, a time nor a known filler."""
    found: list[tuple[str, object]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or ""
        value: object = match.group()
        if kind == "time":
            minutes, strong = _minutes(match)
            if minutes is None:
                return None
            value = (minutes, strong)
        elif kind == "group":
            key = " ".join(re.sub(r"[/\s-]+", " ", match.group()).split()).replace("en ", "")
            value, kind = _GROUPS.get(key, tuple(range(7))), "days"
        elif kind == "word":
            if match.group() in DAY_OF:
                kind, value = "day", DAY_OF[match.group()]
            elif match.group() not in _IGNORED:
                return None
        found.append((kind, value))
    return found


def _ranges(tokens: list[tuple[str, object]]) -> list[tuple[str, object]] | None:
    """Day ranges (« lundi au vendredi », « lu-ve ») and time ranges (« 9h à 12h », « 9-12h ») made single items:
    ("days", [..]), ("times", (start, end)), ("closed", None), ("except", None), ("sep", ",")."""
    items: list[tuple[str, object]] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        link = _link(tokens, i + 1)
        if kind == "day" and link and link[1][0] == "day":
            first, last = int(value), int(link[1][1])  # type: ignore[call-overload]
            items.append(("days", _span(first, last)))
            i = link[0] + 1
            continue
        if kind == "time" and link and link[1][0] == "time":
            start, strong_a = cast(tuple[int, bool], value)
            end, strong_b = cast(tuple[int, bool], link[1][1])
            if not (strong_a or strong_b) or end <= start:
                return None
            items.append(("times", (start, end)))
            i = link[0] + 1
            continue
        items.append(_single(kind, value))
        i += 1
    return items


def _link(tokens: list[tuple[str, object]], i: int) -> tuple[int, tuple[str, object]] | None:
    """The token after a range word (« - », « à », « au », « jusqu'à ») starting at i, with its index."""
    j = i
    seen = False
    while j < len(tokens) and (tokens[j][0] == "dash" or tokens[j] in (("word", "a"), ("word", "au"),
                                                                     ("word", "jusqu"), ("word", "jusqua"))):
        seen, j = True, j + 1
    return (j, tokens[j]) if seen and j < len(tokens) else None


def _span(first: int, last: int) -> list[int]:
    if PH in (first, last):
        return [first, last]
    return [(first + k) % 7 for k in range((last - first) % 7 + 1)]


def _single(kind: str, value: object) -> tuple[str, object]:
    if kind == "day":
        return "days", [value]
    if kind == "days":
        return "days", list(value)  # type: ignore[call-overload]
    if kind == "word" and value in ("ferme", "fermes", "fermee", "fermeture"):
        return "closed", None
    if kind == "word" and value == "sauf":
        return "except", None
    if kind == "time":
        return "lone_time", value
    return ("sep", value) if kind in ("sep", "dash") else ("word", value)


def _rules(items: list[tuple[str, object]]) -> list[Rule] | None:
    """Day groups paired with the time groups beside them, in the order typed."""
    groups: list[tuple[str, list[object]]] = []  # ("days", [day…]) / ("times", [(start, end)…]) / ("closed", [])
    excepting = False
    for kind, value in items:
        if kind == "lone_time":
            return None
        if kind == "except":
            excepting = True
            continue
        if kind in ("sep", "word"):
            continue
        if kind == "days" and excepting and groups and groups[-1][0] == "days":
            groups[-1] = ("days", [d for d in groups[-1][1] if d not in value])  # type: ignore[operator]
            excepting = False
            continue
        excepting = False
        values = list(value) if kind == "days" else [value] if kind == "times" else []  # type: ignore[call-overload]
        if groups and groups[-1][0] == kind:
            groups[-1][1].extend(values)
        else:
            groups.append((kind, values))
    return _pair(groups)


def _pair(groups: list[tuple[str, list[object]]]) -> list[Rule] | None:
    rules: list[Rule] = []
    pending_times: list[object] | None = None
    i = 0
    while i < len(groups):
        kind, values = groups[i]
        following = groups[i + 1] if i + 1 < len(groups) else None
        if kind == "days":
            days = [int(v) for v in dict.fromkeys(values)]  # type: ignore[call-overload]
            if pending_times is not None:
                rules.append(Rule(days, list(pending_times)))  # type: ignore[arg-type]
                pending_times = None
            elif following and following[0] in ("times", "closed"):
                rules.append(Rule(days, list(following[1]), following[0] == "closed"))  # type: ignore[arg-type]
                i += 1
            else:
                return None
        elif kind == "times" and pending_times is None and not rules:
            pending_times = values
        elif kind == "closed" and rules and following and following[0] == "days":
            rules.append(Rule([int(v) for v in following[1]], [], True))  # type: ignore[call-overload]
            i += 1
        else:
            return None
        i += 1
    return rules if pending_times is None and rules else None


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _osm_days(days: list[int]) -> str:
    week = sorted(d for d in set(days) if d != PH)
    runs: list[list[int]] = []
    for day in week:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [OSM_DAYS[r[0]] if len(r) == 1 else f"{OSM_DAYS[r[0]]}{'-' if len(r) > 2 else ','}{OSM_DAYS[r[-1]]}"
             for r in runs]
    return ",".join([*(["PH"] if PH in days else []), *parts])


def to_osm(rules: list[Rule], appointment: bool) -> str:
    comment = f' "{APPOINTMENT}"' if appointment else ""
    parts = [f"{_osm_days(r.days)} off" if r.closed else
             f"{_osm_days(r.days)} {','.join(f'{_clock(a)}-{_clock(b)}' for a, b in r.times)}{comment}"
             for r in rules]
    return "; ".join(parts)


def read_hours(text: str) -> Hours | None:
    """French hours, or OSM syntax as is; None when not understood (then nothing is guessed)."""
    raw = " ".join(text.split())
    if raw and parse_hours(raw) is not None and re.search(r"\b(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|24/7)\b", raw):
        return Hours(raw, (), False)
    plain = unidecode(raw).lower().replace("'", " ").replace("’", " ")
    appointment = bool(_APPOINTMENT.search(plain))
    rest = _PARTS_OF_DAY.sub(" ", _APPOINTMENT.sub(" ", plain)).strip(" .,;")
    if appointment and not rest.strip(" .,;-"):
        return Hours(f'unknown "{APPOINTMENT}"', (), True)
    tokens = _tokens(rest)
    if not tokens or not _short_ok(tokens, rest):
        return None
    items = _ranges(tokens)
    rules = _rules(items) if items is not None else None
    if not rules or any(not r.days for r in rules):
        return None
    osm = to_osm(rules, appointment)
    return Hours(osm, tuple(rules), appointment) if parse_hours(osm) is not None else None


def _short_ok(tokens: list[tuple[str, object]], text: str) -> bool:
    """Two-letter days (« lu », « ma », « je ») count only in a text that also has a time: « je passe » is no day."""
    return any(kind == "time" for kind, _ in tokens) or not any(
        w in _SHORT for w in re.findall(r"[a-z]+", text))


# -- said back in French ---------------------------------------------------------------------------------------


def _day_names() -> list[str]:
    return [*t("partners.day_names").split("|"), t("partners.hours_holidays")]


def _days_text(days: list[int]) -> tuple[str, bool]:
    """(« du lundi au vendredi » or « lundi et jeudi », True when it is a « du … au … » span)."""
    names = _day_names()
    week = sorted(d for d in set(days) if d != PH)
    span = len(week) >= 3 and week == list(range(week[0], week[-1] + 1))
    text = t("partners.hours_from_to", first=names[week[0]], last=names[week[-1]]) if span else _listed(
        [names[d] for d in week]) if week else ""
    return _listed([w for w in (text, names[PH] if PH in days else "") if w]), span


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {t('partners.hours_and')} {words[-1]}"


def _time_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def said(hours: Hours) -> str:
    """« du lundi au vendredi, 9 h – 12 h ; samedi 10 h – 12 h » (or the OSM text when typed as such)."""
    if not hours.rules:
        return t("partners.hours_appointment") if hours.appointment else hours_text(hours.osm)
    parts = []
    for rule in hours.rules:
        days, span = _days_text(rule.days)
        comma = "," if span else ""
        what = t("partners.hours_off") if rule.closed else _listed(
            [f"{_time_text(a)} – {_time_text(b)}" for a, b in rule.times])
        parts.append(f"{days}{comma} {what}")
    text = " ; ".join(parts)
    return f"{text} ({t('partners.hours_appointment')})" if hours.appointment else text
