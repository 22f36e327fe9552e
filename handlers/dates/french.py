"""French meeting dates (« jeudi 12 mars à 14h ») to aware datetimes in the network's zone, and back."""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from bot.i18n import t
from handlers.quoting import quoted

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

# Interpretation rules (the corpus in tests/test_dates.py pins each of them):
# - a bare weekday (« jeudi », « ce jeudi ») is its next occurrence, today included while the time is ahead;
#   « jeudi prochain » is the next one strictly after today; « jeudi de la semaine prochaine » is the Thursday
#   of the next Monday-to-Sunday week; « jeudi en huit » is « jeudi prochain » plus 7 days;
# - « dans huit jours » / « dans quinze jours » are one / two weeks (+7 / +14 days), as French speakers mean;
# - a day and month without year (« 3 mars », « 12/03 ») that is over means next year; « le 12 » means the
#   next 12th; a time alone (« 15h ») means today, or tomorrow when 15:00 is over;
# - with allow_past=True (the start of a past period, « depuis le 3 mars ») the same incomplete dates resolve
#   backwards instead: the latest occurrence already begun;
# - « minuit » is 00:00 at the start of the day named; « 3h de l'après-midi » / « 8h du soir » add 12 hours;
# - a time in the spring-forward gap moves forward by the gap (02:30 becomes 03:30); a repeated autumn time
#   takes its first occurrence (summer time).

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
ZONE_NAMES = {
    "Europe/Paris": "heure de Paris",
    "America/Guadeloupe": "heure de Guadeloupe",
    "America/Martinique": "heure de Martinique",
    "America/Cayenne": "heure de Guyane",
    "Indian/Reunion": "heure de La Réunion",
    "Indian/Mayotte": "heure de Mayotte",
}
MAX_TEXT = 200
_MONTH_WORDS = {
    "janvier": 1, "janv": 1, "jan": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4,
    "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "sept": 9, "sep": 9,
    "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}  # fmt: skip
_UNITS = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
    "seize": 16,
}  # fmt: skip
_TENS = {"vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60}
_ORDINAL_WORDS = {"premier": 1, "premiere": 1, "deuxieme": 2, "second": 2, "seconde": 2, "troisieme": 3,
                  "quatrieme": 4, "cinquieme": 5}  # fmt: skip
_DAY_OFFSETS = {"aujourd hui": 0, "demain": 1, "apres demain": 2, "hier": -1, "avant hier": -2}
_WEEK_OFFSETS = {"ce semaine": 0, "semaine prochain": 1, "semaine dernier": -1}
_FILLERS = frozenset({
    "le", "la", "les", "l", "a", "au", "aux", "pour", "vers", "des", "de", "du", "d",
    "depuis", "partir", "entre", "-", "rdv", "rendez", "vous", "reunion",
})  # fmt: skip
_RANGE_WORDS = frozenset({"a", "-", "et", "jusqu a"})
_NO_YEAR = 1904  # leap year nobody types: dateparser's year when none is given; « 29 février » stays valid

_DURATIONS = ("jours?", "semaines?", "mois", "ans?", "annees?", "min", "minutes?")
_THIS_MONTH = "ce mois|mois prochain|mois dernier|mois"
_WD = "(?P<wd>" + "|".join(WEEKDAYS) + ")"
_MONTH = "(?P<month>" + "|".join(_MONTH_WORDS) + ")"
_YEAR = r"(?P<year>\d{4}|\d{2})"
_NUMBER_WORDS = "|".join([*_UNITS, *_TENS])

_ORDINAL = re.compile(
    rf"\b(?:(?P<word>{'|'.join(_ORDINAL_WORDS)})|(?P<n>\d{{1,2}})(?:er|ere|re|eme|ieme|e|nde?))\b", re.ASCII
)
_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?: et (?P<et>un|une|onze)| (?P<unit>{'|'.join(_UNITS)}))?"
    rf"|dix (?P<teen>sept|huit|neuf)|(?P<single>{'|'.join(_UNITS)}))\b",
    re.ASCII,
)
_SEPT_AFTER_NUMBER = re.compile(r"(?:\d|\b(?:" + _NUMBER_WORDS + r"))e? $", re.ASCII)
_UNIT_AFTER = re.compile(r" (?:jours?|semaines?|mois|ans?|heures?|h)\b", re.ASCII)
_SYNONYMS = (
    (re.compile(r"\b(?:prochaine|suivante?|qui vient)\b"), "prochain"),
    (re.compile(r"\b(?:derniere|passee?)\b"), "dernier"),
    (re.compile(r"\bcet(?:te)?\b"), "ce"),
    (re.compile(r"\bce mois ci\b"), "ce mois"),
    (re.compile(r"\baujourd ?hui\b"), "aujourd hui"),
    (re.compile(r"\bce midi\b"), "aujourd hui midi"),
)
_SOON = re.compile(
    r"dans (?:(?P<h>\d{1,3}) ?(?:h|heures?)(?: ?(?P<m>\d{1,2})(?: ?min(?:utes?)?)?)?"
    r"|(?P<min>\d{1,3}) ?min(?:utes?)?|1 (?P<part>demi heure|quart d heure))",
    re.ASCII,
)
_HINT = re.compile(r"\b(?P<this>ce )?(?P<hint>matin(?:ee)?|apres midi|aprem|soir(?:ee)?)\b", re.ASCII)
_CLOCK = re.compile(
    r"(?:(?<![\d/.:-])(?P<h>\d{1,2}) ?(?:h|heures?)(?![a-z])|\b(?P<word>midi|minuit)\b)"
    r"(?: ?(?P<m>\d{1,2})\b(?! ?(?:[/.:]|" + "|".join(_MONTH_WORDS) + r"\b))(?: ?min(?:utes?)?\b)?"
    r"| et (?P<frac>quart|demie?)\b| moins (?:le )?(?P<less>quart)\b| moins (?P<lessn>\d{1,2})\b)?"
    r"|(?<![\d/.:-])(?P<hc>\d{1,2}):(?P<mc>\d{2})(?::\d{2})?(?![\d/.:])"
    r"|\ba (?P<ha>\d{1,2})(?![\d/.:-]| ?h| ?e\b| ?(?:" + "|".join([*_MONTH_WORDS, *_DURATIONS]) + r")\b)",
    re.ASCII,
)


class DateError(ValueError):
    """A date the bot cannot use; `.message` is the French text to show, `.key` its key in dates.toml."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        self.message = t(f"dates.{key}", **values)
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class _Ctx:
    now: datetime  # aware, in tz
    tz: ZoneInfo
    clock: time | None
    allow_past: bool
    text: str

    @property
    def today(self) -> date:
        return self.now.date()

    def ahead(self, day: date) -> bool:
        """The day (no time given) or the day at that time is not over yet."""
        return day >= self.today if self.clock is None else _localize(day, self.clock, self.tz) >= self.now

    def begun(self, day: date) -> bool:
        """The day (no time given) or the day at that time has already started."""
        return day <= self.today if self.clock is None else _localize(day, self.clock, self.tz) <= self.now

    def choose(self, days: Iterable[date]) -> date | None:
        """The next occurrence among `days`, or with allow_past the latest one already begun."""
        ordered = sorted(days)
        if self.allow_past:
            return next((d for d in reversed(ordered) if self.begun(d)), None)
        return next((d for d in ordered if self.ahead(d)), None)

    def pick(self, days: Iterable[date]) -> date:
        if (found := self.choose(days)) is None:
            raise DateError("not_understood", text=quoted(self.text, limit=60))
        return found

    def years(self) -> range:
        return range(self.today.year - 1, self.today.year + 5)  # always holds a leap year ahead

    def date_of(self, year: int, month: int, day: int, shown: str) -> date:
        """An explicit date; a year far away is refused before anything is computed with it."""
        if year > self.today.year + 3:
            raise DateError("too_far", when=shown)
        if year < self.today.year - 3:
            raise DateError("too_old" if self.allow_past else "past", when=shown)
        try:
            return date(year, month, day)
        except ValueError:
            raise DateError("invalid_date", date=shown) from None


def parse_when(
    text: str, *, now: datetime, tz: ZoneInfo, require_time: bool = True, allow_past: bool = False
) -> datetime:
    """The moment meant by a French `text`, aware in `tz`; raises DateError with a French message."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if len(text) > MAX_TEXT:
        raise DateError("too_long")
    local_now, normalized = now.astimezone(tz), _normalize(text)
    if not normalized:
        raise DateError("empty")
    if (soon := _soon(normalized, local_now)) is not None:
        return soon
    rest, hint = _extract_hint(normalized)
    rest, clock = _extract_clock(rest)
    ctx = _Ctx(local_now, tz, _apply_hint(clock, hint), allow_past, text.strip())
    day = _check_day(_resolve_day(_strip_fillers(rest), ctx), ctx)
    if ctx.clock is None and require_time:
        raise DateError("need_time", day=_day_text(day))
    return _check_moment(_localize(day, ctx.clock or time(0), tz), ctx)


def format_when(dt: datetime, tz: ZoneInfo) -> str:
    """« jeudi 12 mars 2026 à 14 h 00, heure de Paris », whatever the system locale."""
    local = dt.astimezone(tz)
    return f"{_day_text(local.date())} à {local.hour} h {local.minute:02d}, {_zone_name(tz)}"


def when_command(text: str, now_iso: str | None, tz_name: str) -> tuple[int, str]:
    """`relais when TEXT [--now ISO] [--tz ZONE]`: (0, ISO 8601), (1, French error) or (2, bad option)."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return 2, t("dates.bad_zone", tz=tz_name)
    try:
        now = datetime.now(tz) if now_iso is None else datetime.fromisoformat(now_iso)
    except ValueError:
        return 2, t("dates.bad_now", now=now_iso)
    if not 1900 <= now.year <= 9000:
        return 2, t("dates.bad_now", now=now_iso)
    now = now if now.utcoffset() is not None else now.replace(tzinfo=tz)
    try:
        return 0, parse_when(text, now=now, tz=tz).isoformat()
    except DateError as error:
        return 1, error.message


# --- text normalisation -------------------------------------------------------------------------------------


def _normalize(text: str) -> str:
    """Lower case, no accents or punctuation, ordinals as « 2e », numbers in digits, synonyms unified."""
    s = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    s = re.sub(r"[^\w\s:/.-]", " ", s)  # apostrophes, commas, brackets, emoji...
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", s)  # « déc. », a final full stop; « 12.03.26 » stays
    s = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", s)  # après-midi, vingt-deux, mois-ci
    s = re.sub(r"(?<=\d)t(?=\d)", " ", s)  # 2026-03-12T14:30
    s = _ORDINAL.sub(_ordinal, " ".join(s.split()))
    s = _NUMBER.sub(_number, s)
    for pattern, replacement in _SYNONYMS:
        s = pattern.sub(replacement, s)
    return " ".join(s.split())


def _ordinal(m: re.Match[str]) -> str:
    return f"{_ORDINAL_WORDS[m['word']] if m['word'] else int(m['n'])}e"


def _number(m: re.Match[str]) -> str:
    """A French number word as digits; « sept » after a number is September (« le 12 sept »)."""
    after_number = _SEPT_AFTER_NUMBER.search(m.string[: m.start()])
    if m["single"] == "sept" and after_number and not _UNIT_AFTER.match(m.string, m.end()):
        return "septembre"
    if m["single"]:
        return str(_UNITS[m["single"]])
    if m["teen"]:
        return str(10 + _UNITS[m["teen"]])
    extra = 1 if m["et"] in ("un", "une") else 11 if m["et"] else _UNITS.get(m["unit"] or "", 0)
    return str(_TENS[m["tens"]] + extra)


def _strip_fillers(s: str) -> str:
    return " ".join(word for word in s.split() if word not in _FILLERS)


# --- time of day -------------------------------------------------------------------------------------------


def _soon(s: str, now: datetime) -> datetime | None:
    """« dans 2 heures », « dans 30 minutes »: elapsed time, counted in UTC so DST cannot bend it."""
    if not (m := _SOON.fullmatch(s)):
        return None
    if m["part"]:
        delta = timedelta(minutes=30 if m["part"] == "demi heure" else 15)
    else:
        delta = timedelta(hours=int(m["h"] or 0), minutes=int(m["m"] or m["min"] or 0))
    return (now.astimezone(UTC) + delta).astimezone(now.tzinfo).replace(second=0, microsecond=0)


def _extract_hint(s: str) -> tuple[str, str | None]:
    """Remove « matin », « après-midi », « soir »; « ce soir » also means today."""
    found = _HINT.search(s)
    if found is None:
        return s, None
    hint = "am" if found["hint"].startswith("matin") else "pm"
    rest = _HINT.sub(lambda m: " aujourd hui " if m["this"] else " ", s)
    return rest, f"{hint}:{found['hint']}"


def _extract_clock(s: str) -> tuple[str, time | None]:
    """Remove the time of day; a range (« de 14h à 16h ») keeps its start, two unrelated times are refused."""
    found = list(_CLOCK.finditer(s))
    if not found:
        return s, None
    between = s[found[0].end() : found[-1].start()].strip()
    if len(found) > 2 or (len(found) == 2 and between not in _RANGE_WORDS):
        raise DateError("several_times")
    return s[: found[0].start()] + " " + s[found[-1].end() :], _clock(found[0])


def _clock(m: re.Match[str]) -> time:
    hour = (12 if m["word"] == "midi" else 0) if m["word"] else int(m["h"] or m["hc"] or m["ha"])
    minute = int(m["m"] or m["mc"] or 0)
    if m["frac"]:
        minute = 15 if m["frac"] == "quart" else 30
    if m["less"] or m["lessn"]:
        hour, minute = hour - 1, 60 - (15 if m["less"] else int(m["lessn"]))
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise DateError("bad_time", time=m.group(0).strip())
    return time(hour, minute)


def _apply_hint(clock: time | None, hint: str | None) -> time | None:
    """« 3h de l'après-midi » is 15:00; « 15h du matin » makes no sense."""
    if clock is None or hint is None:
        return clock
    half, word = hint.split(":")
    if half == "am" and clock.hour > 12:
        raise DateError("time_conflict", time=f"{clock.hour} h", hint=word.replace("apres", "après"))
    return clock.replace(hour=clock.hour + 12) if half == "pm" and 1 <= clock.hour <= 11 else clock


# --- the day -----------------------------------------------------------------------------------------------

_Handler = Callable[[re.Match[str], _Ctx], date]


def _relative_day(m: re.Match[str], ctx: _Ctx) -> date:
    return ctx.today + timedelta(days=_DAY_OFFSETS[m.group(0)])


def _in_delta(m: re.Match[str], ctx: _Ctx) -> date:
    """« dans 3 jours », « il y a 2 semaines »; « huit jours » and « quinze jours » are 1 and 2 weeks."""
    n, unit = int(m["n"]), m["unit"]
    if unit.startswith("j"):
        delta = relativedelta(days={8: 7, 15: 14}.get(n, n))
    elif unit.startswith("s"):
        delta = relativedelta(weeks=n)
    else:
        delta = relativedelta(months=n) if unit == "mois" else relativedelta(years=n)
    return ctx.today - delta if m["ago"] else ctx.today + delta


def _weekday(m: re.Match[str], ctx: _Ctx) -> date:
    wd, rel, today = WEEKDAYS.index(m["wd"]), m["rel"], ctx.today
    if rel in _WEEK_OFFSETS:
        return today + timedelta(days=wd - today.weekday() + 7 * _WEEK_OFFSETS[rel])
    days = [today + timedelta(days=k) for k in range(-7, 15) if (today.weekday() + k) % 7 == wd]
    following = next(d for d in days if d > today)
    if rel == "prochain":
        return following
    if rel == "dernier":
        return [d for d in days if d < today][-1]
    if rel:  # « en 8 », « en 15 »
        return following + timedelta(days=7 if rel == "en 8" else 14)
    return ctx.pick(days)


def _day_month(m: re.Match[str], ctx: _Ctx) -> date:
    return _dated(ctx, int(m["day"]), _MONTH_WORDS[m["month"]], m["year"], m["wd"])


def _numeric(m: re.Match[str], ctx: _Ctx) -> date:
    return _dated(ctx, int(m["day"]), int(m["mon"]), m["year"], m["wd"])


def _dated(ctx: _Ctx, day: int, month: int, year: str | None, wd: str | None) -> date:
    """A day and month, with or without year; the weekday, if given, must match."""
    shown = f"{_day_number(day)} {MONTHS[month - 1]}" if 1 <= month <= 12 else f"{day}/{month}"
    if year:
        found = ctx.date_of(_full_year(year), month, day, f"{shown} {_full_year(year)}")
    elif 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]:
        days = [d for y in ctx.years() if (d := _safe_date(y, month, day))]
        # a weekday given with the day and month picks the year (« depuis le samedi 29 mars »)
        found = ctx.choose(d for d in days if WEEKDAYS[d.weekday()] == wd) or ctx.pick(days)
    else:
        raise DateError("invalid_date", date=shown)
    return _check_weekday(found, wd)


def _day_only(m: re.Match[str], ctx: _Ctx) -> date:
    """« le 12 »: the next 12th (this month or a following one)."""
    day = int(m["day"])
    if not 1 <= day <= 31:
        raise DateError("invalid_date", date=f"le {day}")
    first = ctx.today.replace(day=1)
    months = [first + relativedelta(months=k) for k in range(-2, 4)]
    return _check_weekday(ctx.pick(d for f in months if (d := _safe_date(f.year, f.month, day))), m["wd"])


def _nth_weekday(m: re.Match[str], ctx: _Ctx) -> date:
    """« le premier jeudi du mois prochain », « le dernier vendredi de mars »."""
    wd, nth = WEEKDAYS.index(m["wd"]), -1 if m["nth"] == "dernier" else int(m["nth"][:-1])
    if m["month"] and not m["year"]:
        month = _MONTH_WORDS[m["month"]]
        found = [d for y in ctx.years() if (d := _nth_in(y, month, wd, nth))]
        if not found:
            raise DateError("no_such_weekday", **_no_such(nth, wd, date(ctx.today.year, month, 1)))
        return ctx.pick(found)
    if m["month"]:
        year, month = _full_year(m["year"]), _MONTH_WORDS[m["month"]]
        first = ctx.date_of(year, month, 1, f"{MONTHS[month - 1]} {year}")
    else:
        shift = {"prochain": 1, "dernier": -1}.get(m["rel"].split()[-1], 0)
        first = ctx.today.replace(day=1) + relativedelta(months=shift)
    if (day := _nth_in(first.year, first.month, wd, nth)) is None:
        raise DateError("no_such_weekday", **_no_such(nth, wd, first))
    return day


def _vague(m: re.Match[str], ctx: _Ctx) -> date:
    raise DateError("vague_day", text=quoted(ctx.text, limit=60))


_GRAMMAR: tuple[tuple[re.Pattern[str], _Handler], ...] = tuple(
    (re.compile(pattern, re.ASCII), handler)
    for pattern, handler in (
        ("|".join(_DAY_OFFSETS), _relative_day),
        (r"(?:(?P<ago>il y)|dans) (?P<n>\d{1,3}) (?P<unit>jours?|semaines?|mois|ans?|annees?)", _in_delta),
        (rf"(?:ce )?{_WD}(?: (?P<rel>prochain|dernier|en 8|en 15|{'|'.join(_WEEK_OFFSETS)}))?", _weekday),
        (rf"(?P<nth>[1-9]e|dernier) {_WD} (?:(?P<rel>{_THIS_MONTH})|{_MONTH}(?: {_YEAR})?)", _nth_weekday),
        (rf"(?:{_WD} )?(?P<day>\d{{1,2}})e? {_MONTH}(?: {_YEAR})?", _day_month),
        (rf"(?:{_WD} )?(?P<year>\d{{4}})-(?P<mon>\d{{1,2}})-(?P<day>\d{{1,2}})", _numeric),
        (rf"(?:{_WD} )?(?P<day>\d{{1,2}})(?P<sep>[/.-])(?P<mon>\d{{1,2}})(?:(?P=sep){_YEAR})?", _numeric),
        (rf"(?:{_WD} )?(?P<day>\d{{1,2}})e?", _day_only),
        (rf"(?:ce |debut |fin |mi )?(?:semaine|mois|annee|{_MONTH})(?: prochain| dernier| \d{{4}})?", _vague),
        (rf"(?:[1-9]e |dernier )?{_WD} (?:{_THIS_MONTH})", _vague),
        (rf"(?:[1-9]e|dernier) {_WD}", _vague),
    )
)  # fmt: skip


def _resolve_day(s: str, ctx: _Ctx) -> date:
    """The day named by the text left once the time and the filler words are gone."""
    if not s:
        if ctx.clock is None:
            raise DateError("not_understood", text=quoted(ctx.text, limit=60))
        return ctx.pick(ctx.today + timedelta(days=k) for k in (-1, 0, 1))
    for pattern, handler in _GRAMMAR:
        if m := pattern.fullmatch(s):
            return handler(m, ctx)
    found = _dateparser_day(s, ctx)
    if found is None:
        raise DateError("not_understood", text=quoted(ctx.text, limit=60))
    return found


@cache
def _date_parser() -> DateDataParser:
    """Built once, on first need: dateparser is slow to import."""
    from dateparser.date import DateDataParser

    settings = {
        "DATE_ORDER": "DMY",
        "PREFER_LOCALE_DATE_ORDER": False,
        "RELATIVE_BASE": datetime(_NO_YEAR, 6, 15),  # noqa: DTZ001 - only a year marker, never a moment
        "REQUIRE_PARTS": ["day", "month"],
        "PARSERS": ["custom-formats", "absolute-time"],  # relative words are handled above
        "RETURN_TIME_AS_PERIOD": True,
    }
    return DateDataParser(languages=["fr"], settings=settings)


def _dateparser_day(s: str, ctx: _Ctx) -> date | None:
    """Other spellings of a calendar date (« 2026/03/12 », « mars 12 », « 12mars »), through dateparser."""
    try:
        data = _date_parser().get_date_data(s)
    except Exception:  # dateparser can trip on odd text; « not understood » is the answer then
        return None
    found = data.date_obj
    if found is None or data.period != "day":
        return None
    if found.year != _NO_YEAR or str(_NO_YEAR) in s:
        shown = f"{_day_number(found.day)} {MONTHS[found.month - 1]} {found.year}"
        return ctx.date_of(found.year, found.month, found.day, shown)
    return ctx.pick(d for y in ctx.years() if (d := _safe_date(y, found.month, found.day)))


# --- checks and helpers ------------------------------------------------------------------------------------


def _check_day(day: date, ctx: _Ctx) -> date:
    """Refuse a day more than two years away, or over (unless allow_past; with a time, see _check_moment)."""
    if not ctx.allow_past and ctx.clock is None and day < ctx.today:
        raise DateError("past", when=_day_text(day))
    if day > ctx.today + relativedelta(years=2):
        raise DateError("too_far", when=_day_text(day))
    if day < ctx.today - relativedelta(years=2):
        raise DateError("too_old", when=_day_text(day))
    return day


def _check_moment(moment: datetime, ctx: _Ctx) -> datetime:
    if not ctx.allow_past and ctx.clock is not None and moment < ctx.now:
        raise DateError("past", when=format_when(moment, ctx.tz))
    if moment > ctx.now + relativedelta(years=2):
        raise DateError("too_far", when=format_when(moment, ctx.tz))
    return moment


def _check_weekday(day: date, given: str | None) -> date:
    if given and WEEKDAYS[day.weekday()] != given:
        actual, shown = WEEKDAYS[day.weekday()], _day_text(day)[len(WEEKDAYS[day.weekday()]) + 1 :]
        raise DateError("weekday_mismatch", date=shown, actual=actual, given=given)
    return day


def _localize(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """Wall time in tz: fold=0 takes the first of a repeated hour; the UTC round trip moves a skipped one."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nth_in(year: int, month: int, wd: int, nth: int) -> date | None:
    """The nth (or, for -1, the last) weekday `wd` of a month, if there is one."""
    first = date(year, month, 1)
    if nth > 0:
        day = first + timedelta(days=(wd - first.weekday()) % 7 + 7 * (nth - 1))
    else:
        last = first + relativedelta(months=1) - timedelta(days=1)
        day = last - timedelta(days=(last.weekday() - wd) % 7)
    return day if day.month == month else None


def _no_such(nth: int, wd: int, first: date) -> dict[str, str]:
    last = _nth_in(first.year, first.month, wd, -1)
    assert last is not None  # every weekday occurs in every month
    return {"nth": "1er" if nth == 1 else f"{nth}e", "weekday": WEEKDAYS[wd],
            "month": f"{MONTHS[first.month - 1]} {first.year}", "example": _day_text(last)}  # fmt: skip


def _full_year(text: str) -> int:
    return int(text) + (2000 if len(text) == 2 else 0)


def _day_number(day: int) -> str:
    return "1er" if day == 1 else str(day)


def _day_text(day: date) -> str:
    """« jeudi 12 mars 2026 », « mercredi 1er avril 2026 »."""
    return f"{WEEKDAYS[day.weekday()]} {_day_number(day.day)} {MONTHS[day.month - 1]} {day.year}"


def _zone_name(tz: ZoneInfo) -> str:
    key = getattr(tz, "key", None) or str(tz)
    return ZONE_NAMES.get(key, f"heure de {key.rsplit('/', 1)[-1].replace('_', ' ')}")
