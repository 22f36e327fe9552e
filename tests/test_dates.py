"""French date parsing: a corpus of phrases with fixed « now »s, the French errors, DST, and fuzzing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.i18n import t
from handlers.dates.french import DateError, format_when, parse_when, when_command

PARIS, GUADELOUPE = "Europe/Paris", "America/Guadeloupe"
REUNION, CAYENNE = "Indian/Reunion", "America/Cayenne"
MARTINIQUE = "America/Martinique"
TUESDAY = "2026-03-10T09:00"  # a Tuesday, winter time in Paris
NEW_YEAR = "2026-12-30T09:00"  # a Wednesday, just before the turn of the year
SPRING = "2026-03-25T10:00"  # Wednesday before Paris springs forward (Sunday 29 March, 02:00 -> 03:00)
AUTUMN = "2026-10-20T10:00"  # Tuesday before Paris falls back (Sunday 25 October, 03:00 -> 02:00)


def _parse(text: str, now: str, zone: str, **options: bool) -> datetime:
    tz = ZoneInfo(zone)
    return parse_when(text, now=datetime.fromisoformat(now).replace(tzinfo=tz), tz=tz, **options)


CORPUS = [
    # acceptance points
    (TUESDAY, PARIS, "demain 10h", "2026-03-11T10:00:00+01:00"),
    (TUESDAY, GUADELOUPE, "jeudi 14h30", "2026-03-12T14:30:00-04:00"),
    # times of day: today while ahead, else tomorrow
    (TUESDAY, PARIS, "Demain à 10 h", "2026-03-11T10:00:00+01:00"),
    (TUESDAY, PARIS, "15h", "2026-03-10T15:00:00+01:00"),
    (TUESDAY, PARIS, "8h", "2026-03-11T08:00:00+01:00"),
    (TUESDAY, PARIS, "à 14h", "2026-03-10T14:00:00+01:00"),
    (TUESDAY, PARIS, "14:30", "2026-03-10T14:30:00+01:00"),
    (TUESDAY, PARIS, "14 h 30", "2026-03-10T14:30:00+01:00"),
    (TUESDAY, PARIS, "midi", "2026-03-10T12:00:00+01:00"),
    (TUESDAY, PARIS, "minuit", "2026-03-11T00:00:00+01:00"),
    (TUESDAY, PARIS, "aujourd'hui 18h", "2026-03-10T18:00:00+01:00"),
    (TUESDAY, PARIS, "ce soir 8h", "2026-03-10T20:00:00+01:00"),
    (TUESDAY, PARIS, "ce midi", "2026-03-10T12:00:00+01:00"),
    (TUESDAY, PARIS, "cet après-midi à 3h", "2026-03-10T15:00:00+01:00"),
    (TUESDAY, PARIS, "demain 3h de l'après-midi", "2026-03-11T15:00:00+01:00"),
    (TUESDAY, PARIS, "demain 9h du matin", "2026-03-11T09:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi 8h du soir", "2026-03-12T20:00:00+01:00"),
    (TUESDAY, PARIS, "après-demain 14 h 30", "2026-03-12T14:30:00+01:00"),
    (TUESDAY, PARIS, "après demain à midi et demi", "2026-03-12T12:30:00+01:00"),
    (TUESDAY, PARIS, "quinze heures trente", "2026-03-10T15:30:00+01:00"),
    (TUESDAY, PARIS, "dix-sept heures et quart demain", "2026-03-11T17:15:00+01:00"),
    (TUESDAY, PARIS, "midi moins le quart jeudi", "2026-03-12T11:45:00+01:00"),
    (TUESDAY, PARIS, "vingt-deux heures", "2026-03-10T22:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi à 14", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi de 14h à 16h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "RDV jeudi 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "14h30 jeudi prochain", "2026-03-12T14:30:00+01:00"),
    # day and month, ordinals, numbers in words; a day-month that is over means next year
    (TUESDAY, PARIS, "1er avril 14h", "2026-04-01T14:00:00+02:00"),
    (TUESDAY, PARIS, "le premier avril à 9h", "2026-04-01T09:00:00+02:00"),
    (TUESDAY, PARIS, "jeudi 12 mars à 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "Jeudi 12 Mars à 14H", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi, 12 mars, 14 h.", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "12 mars 2026 à 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi 12 mars 14h 30", "2026-03-12T14:30:00+01:00"),
    (TUESDAY, PARIS, "mardi 10h 17 mars", "2026-03-17T10:00:00+01:00"),
    (TUESDAY, PARIS, "le 3 mars à 10h", "2027-03-03T10:00:00+01:00"),
    (TUESDAY, PARIS, "12 déc. 10h", "2026-12-12T10:00:00+01:00"),
    (TUESDAY, PARIS, "le 12 sept. à 9h", "2026-09-12T09:00:00+02:00"),
    (TUESDAY, PARIS, "le douze sept à 10h", "2026-09-12T10:00:00+02:00"),
    (TUESDAY, PARIS, "le vingt-sept mars à 10h", "2026-03-27T10:00:00+01:00"),
    (TUESDAY, PARIS, "le vingt et un mars à 10h", "2026-03-21T10:00:00+01:00"),
    (TUESDAY, PARIS, "mardi 12 mai 2026 14h", "2026-05-12T14:00:00+02:00"),
    (TUESDAY, PARIS, "29 février 10h", "2028-02-29T10:00:00+01:00"),
    # numeric dates
    (TUESDAY, PARIS, "12/03 14:30", "2026-03-12T14:30:00+01:00"),
    (TUESDAY, PARIS, "12/03/2026 midi", "2026-03-12T12:00:00+01:00"),
    (TUESDAY, PARIS, "12.03.26 à 9h", "2026-03-12T09:00:00+01:00"),
    (TUESDAY, PARIS, "2026-03-12 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "2026-03-12T14:30", "2026-03-12T14:30:00+01:00"),
    (TUESDAY, PARIS, "1/4 10h", "2026-04-01T10:00:00+02:00"),
    (TUESDAY, PARIS, "lundi 16/03 à 9h", "2026-03-16T09:00:00+01:00"),
    # other spellings, left to dateparser
    (TUESDAY, PARIS, "12mars 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "2026/03/12 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "mars 12 à 14h", "2026-03-12T14:00:00+01:00"),
    # weekdays
    (TUESDAY, PARIS, "mardi 10h", "2026-03-10T10:00:00+01:00"),
    (TUESDAY, PARIS, "mardi 8h", "2026-03-17T08:00:00+01:00"),
    (TUESDAY, PARIS, "ce mardi à 11h", "2026-03-10T11:00:00+01:00"),
    (TUESDAY, PARIS, "mardi prochain 10h", "2026-03-17T10:00:00+01:00"),
    (TUESDAY, PARIS, "mardi qui vient 10h", "2026-03-17T10:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi prochain à 14h", "2026-03-12T14:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi de la semaine prochaine à 14h", "2026-03-19T14:00:00+01:00"),
    (TUESDAY, PARIS, "jeudi en huit à 10h", "2026-03-19T10:00:00+01:00"),
    (TUESDAY, PARIS, "vendredi de cette semaine 10h", "2026-03-13T10:00:00+01:00"),
    # relative
    (TUESDAY, PARIS, "dans 3 jours à 10h", "2026-03-13T10:00:00+01:00"),
    (TUESDAY, PARIS, "dans quinze jours à 14h", "2026-03-24T14:00:00+01:00"),
    (TUESDAY, PARIS, "dans huit jours à 9h", "2026-03-17T09:00:00+01:00"),
    (TUESDAY, PARIS, "dans sept jours à 10h", "2026-03-17T10:00:00+01:00"),
    (TUESDAY, PARIS, "dans deux semaines à 18h30", "2026-03-24T18:30:00+01:00"),
    (TUESDAY, PARIS, "dans 3 semaines 10h", "2026-03-31T10:00:00+02:00"),
    (TUESDAY, PARIS, "dans un mois à 10h", "2026-04-10T10:00:00+02:00"),
    (TUESDAY, PARIS, "dans 2 heures", "2026-03-10T11:00:00+01:00"),
    (TUESDAY, PARIS, "dans 30 minutes", "2026-03-10T09:30:00+01:00"),
    (TUESDAY, PARIS, "dans une demi-heure", "2026-03-10T09:30:00+01:00"),
    # nth weekday of a month, day of month alone
    (TUESDAY, PARIS, "le premier jeudi du mois prochain à 18h", "2026-04-02T18:00:00+02:00"),
    (TUESDAY, PARIS, "le dernier vendredi de mars à 9h30", "2026-03-27T09:30:00+01:00"),
    (TUESDAY, PARIS, "le 2e mardi d'avril à 14h", "2026-04-14T14:00:00+02:00"),
    (TUESDAY, PARIS, "le deuxième mardi du mois à 14h", "2026-03-10T14:00:00+01:00"),
    (TUESDAY, PARIS, "le troisième mercredi de juin 2026 à 10h", "2026-06-17T10:00:00+02:00"),
    (TUESDAY, PARIS, "le dernier lundi de février à 10h", "2027-02-22T10:00:00+01:00"),
    (TUESDAY, PARIS, "le 12 à 10h", "2026-03-12T10:00:00+01:00"),
    (TUESDAY, PARIS, "le 31 à 10h", "2026-03-31T10:00:00+02:00"),
    (TUESDAY, PARIS, "le 9 à 10h", "2026-04-09T10:00:00+02:00"),
    # overseas zones (no DST there)
    (TUESDAY, GUADELOUPE, "dimanche 29 mars 14h", "2026-03-29T14:00:00-04:00"),
    (TUESDAY, GUADELOUPE, "demain midi", "2026-03-11T12:00:00-04:00"),
    (NEW_YEAR, REUNION, "2 janvier 10h", "2027-01-02T10:00:00+04:00"),
    (NEW_YEAR, REUNION, "le premier lundi de janvier à 10h", "2027-01-04T10:00:00+04:00"),
    (NEW_YEAR, REUNION, "31/12 à 18h", "2026-12-31T18:00:00+04:00"),
    (NEW_YEAR, REUNION, "vendredi 1er janvier 2027 à 11h", "2027-01-01T11:00:00+04:00"),
    (NEW_YEAR, CAYENNE, "le 1er à 10h", "2027-01-01T10:00:00-03:00"),
    (NEW_YEAR, CAYENNE, "dans quinze jours à 9h", "2027-01-13T09:00:00-03:00"),
    (NEW_YEAR, CAYENNE, "samedi 10h", "2027-01-02T10:00:00-03:00"),
    # Paris DST: the wall time is kept; the spring gap moves forward; the repeated autumn hour is summer time
    (SPRING, PARIS, "dimanche 29 mars 14h", "2026-03-29T14:00:00+02:00"),
    (SPRING, PARIS, "samedi 28 mars 14h", "2026-03-28T14:00:00+01:00"),
    (SPRING, PARIS, "dimanche 29 mars 2h30", "2026-03-29T03:30:00+02:00"),
    (SPRING, PARIS, "dimanche 29 mars à 3h", "2026-03-29T03:00:00+02:00"),
    (SPRING, PARIS, "lundi 30 mars 9h", "2026-03-30T09:00:00+02:00"),
    ("2026-03-28T15:00", PARIS, "demain 14h", "2026-03-29T14:00:00+02:00"),
    ("2026-03-29T01:30", PARIS, "dans 2 heures", "2026-03-29T04:30:00+02:00"),
    (AUTUMN, PARIS, "dimanche 25 octobre 2h30", "2026-10-25T02:30:00+02:00"),
    (AUTUMN, PARIS, "dimanche 25 octobre 14h", "2026-10-25T14:00:00+01:00"),
    (AUTUMN, PARIS, "samedi 24 octobre 14h", "2026-10-24T14:00:00+02:00"),
    ("2026-10-24T15:00", PARIS, "demain 14h", "2026-10-25T14:00:00+01:00"),
]


@pytest.mark.parametrize(("now", "zone", "text", "expected"), CORPUS)
def test_corpus(now: str, zone: str, text: str, expected: str) -> None:
    result = _parse(text, now, zone)
    assert result.isoformat() == expected
    assert result.tzinfo == ZoneInfo(zone)


def test_corpus_is_large() -> None:
    assert len(CORPUS) >= 70
    assert len({text for _, _, text, _ in CORPUS}) >= 70


PERIODS = [  # require_time=False, allow_past=True: start of a digest period, resolved backwards
    (TUESDAY, "depuis le 3 mars", "2026-03-03T00:00:00+01:00"),
    (TUESDAY, "depuis lundi", "2026-03-09T00:00:00+01:00"),
    (TUESDAY, "depuis mardi", "2026-03-10T00:00:00+01:00"),
    (TUESDAY, "le 20 décembre", "2025-12-20T00:00:00+01:00"),
    (TUESDAY, "hier", "2026-03-09T00:00:00+01:00"),
    (TUESDAY, "il y a quinze jours", "2026-02-24T00:00:00+01:00"),
    (TUESDAY, "lundi dernier", "2026-03-09T00:00:00+01:00"),
    (TUESDAY, "12 mars 2024", "2024-03-12T00:00:00+01:00"),
    (TUESDAY, "depuis 14h", "2026-03-09T14:00:00+01:00"),
    (TUESDAY, "depuis le samedi 29 mars", "2025-03-29T00:00:00+01:00"),
]


@pytest.mark.parametrize(("now", "text", "expected"), PERIODS)
def test_past_periods(now: str, text: str, expected: str) -> None:
    assert _parse(text, now, PARIS, require_time=False, allow_past=True).isoformat() == expected


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        (TUESDAY, "aujourd'hui", "2026-03-10T00:00:00+01:00"),
        (TUESDAY, "jeudi", "2026-03-12T00:00:00+01:00"),
        (TUESDAY, "mardi", "2026-03-10T00:00:00+01:00"),
        (TUESDAY, "le 3 mars", "2027-03-03T00:00:00+01:00"),
        (SPRING, "dimanche 29 mars", "2026-03-29T00:00:00+01:00"),  # midnight is still winter time
    ],
)
def test_day_without_time_when_allowed(now: str, text: str, expected: str) -> None:
    assert _parse(text, now, PARIS, require_time=False).isoformat() == expected


ERRORS = [
    ("3 mars 2026 à 10h", {}, "past", "Cette date est déjà passée : mardi 3 mars 2026 à 10 h 00, heure de"),
    ("aujourd'hui 8h", {}, "past", "Cette date est déjà passée : mardi 10 mars 2026 à 8 h 00"),
    ("hier à 14h", {}, "past", "Cette date est déjà passée : lundi 9 mars 2026"),
    ("hier", {"require_time": False}, "past", "Indiquez une date à venir."),
    ("le premier mardi du mois à 14h", {}, "past", "mardi 3 mars 2026"),
    ("demain", {}, "need_time", "Il manque l'heure. Écrivez par exemple : mercredi 11 mars 2026 à 14 h."),
    ("jeudi 12 mars", {}, "need_time", "jeudi 12 mars 2026 à 14 h"),
    ("demain matin", {}, "need_time", "Il manque l'heure."),
    ("blabla", {}, "not_understood", "Je n'ai pas compris la date « blabla »."),
    ("réunion avec Paul", {}, "not_understood", "Je n'ai pas compris la date"),
    ("", {}, "empty", "Indiquez une date et une heure."),
    ("x" * 201, {}, "too_long", "Ce message est trop long."),
    ("31 février à 10h", {}, "invalid_date", "Cette date n'existe pas : 31 février."),
    ("31/04 10h", {}, "invalid_date", "Cette date n'existe pas : 31 avril."),
    ("29 février 2027 10h", {}, "invalid_date", "Cette date n'existe pas : 29 février 2027."),
    ("12/13 10h", {}, "invalid_date", "Cette date n'existe pas : 12/13."),
    ("12 mars 2029 à 10h", {}, "too_far", "Cette date est trop lointaine : lundi 12 mars 2029."),
    ("dans 3 ans à 10h", {}, "too_far", "Indiquez une date dans les deux ans qui viennent."),
    ("12 mars 2023", {"require_time": False, "allow_past": True}, "too_old", "Cette date est trop ancienne"),
    ("25h", {}, "bad_time", "L'heure « 25h » n'existe pas."),
    ("jeudi 14h75", {}, "bad_time", "n'existe pas. Écrivez une heure entre 0 h et 23 h 59."),
    ("15h du matin", {}, "time_conflict", "« 15 h » et « matin » ne vont pas ensemble."),
    ("jeudi 13 mars à 14h", {}, "weekday_mismatch", "Le 13 mars 2026 est un vendredi, pas un jeudi."),
    ("le 5e vendredi de février 10h", {}, "no_such_weekday", "Il n'y a pas de 5e vendredi en février 2026."),
    ("jeudi 10h ou 14h", {}, "several_times", "Votre message contient plusieurs heures."),
    ("mois prochain", {}, "vague_day", "« mois prochain » ne suffit pas : il faut un jour précis."),
    ("la semaine prochaine à 10h", {}, "vague_day", "il faut un jour précis"),
    ("mars", {}, "vague_day", "il faut un jour précis"),
]


@pytest.mark.parametrize(("text", "options", "key", "fragment"), ERRORS)
def test_errors_are_french_messages(text: str, options: dict[str, bool], key: str, fragment: str) -> None:
    with pytest.raises(DateError) as caught:
        _parse(text, TUESDAY, PARIS, **options)
    assert caught.value.key == key
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message == t(f"dates.{key}", **caught.value.values)
    assert any(hint in caught.value.message for hint in ("Par exemple", "Écrivez", "Indiquez"))


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("demain 10h", now=datetime.fromisoformat(TUESDAY), tz=ZoneInfo(PARIS))


def test_now_in_another_zone_is_converted() -> None:
    now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already Wednesday 00:30 in Paris
    assert parse_when("demain 10h", now=now, tz=ZoneInfo(PARIS)).isoformat() == "2026-03-12T10:00:00+01:00"


@pytest.mark.parametrize(
    ("iso", "zone", "expected"),
    [
        ("2026-03-12T14:00:00+01:00", PARIS, "jeudi 12 mars 2026 à 14 h 00, heure de Paris"),
        ("2026-04-01T09:05:00+02:00", PARIS, "mercredi 1er avril 2026 à 9 h 05, heure de Paris"),
        ("2026-03-12T13:00:00+00:00", PARIS, "jeudi 12 mars 2026 à 14 h 00, heure de Paris"),
        ("2026-08-15T18:30:00-04:00", GUADELOUPE, "samedi 15 août 2026 à 18 h 30, heure de Guadeloupe"),
        ("2026-12-25T10:00-04:00", MARTINIQUE, "vendredi 25 décembre 2026 à 10 h 00, heure de Martinique"),
        ("2026-02-03T08:00:00-03:00", CAYENNE, "mardi 3 février 2026 à 8 h 00, heure de Guyane"),
        ("2026-07-14T00:00:00+04:00", REUNION, "mardi 14 juillet 2026 à 0 h 00, heure de La Réunion"),
        ("2026-05-01T11:00:00+03:00", "Indian/Mayotte", "vendredi 1er mai 2026 à 11 h 00, heure de Mayotte"),
        ("2026-05-01T11:00-04:00", "America/New_York", "vendredi 1er mai 2026 à 11 h 00, heure de New York"),
    ],
)
def test_format_when(iso: str, zone: str, expected: str) -> None:
    assert format_when(datetime.fromisoformat(iso), ZoneInfo(zone)) == expected


def test_when_command() -> None:
    assert when_command("demain 10h", "2026-03-10T09:00", PARIS) == (0, "2026-03-11T10:00:00+01:00")
    assert when_command("jeudi 14h30", "2026-03-10T09:00", GUADELOUPE) == (0, "2026-03-12T14:30:00-04:00")
    assert when_command("demain 10h", "2026-03-10T08:00Z", GUADELOUPE) == (0, "2026-03-11T10:00:00-04:00")
    code, line = when_command("hier 10h", "2026-03-10T09:00", PARIS)
    assert code == 1 and line.startswith("Cette date est déjà passée")
    code, line = when_command("demain 10h", "2026-03-10T09:00", "Mars/Olympus")
    assert code == 2 and line.startswith("Fuseau horaire inconnu : « Mars/Olympus »")
    for bad_zone in ("", "Europe", "../etc/passwd"):
        assert when_command("demain 10h", None, bad_zone)[0] == 2
    code, line = when_command("demain 10h", "mardi", PARIS)
    assert code == 2 and line.startswith("Date de référence illisible")
    assert when_command("demain 10h", None, REUNION)[0] == 0


_WORDS = [
    *("le", "la", "à", "de", "du", "dans", "il", "y", "a", "jours", "semaines", "mois", "ans", "prochain"),
    *("prochaine", "dernier", "dernière", "ce", "cette", "premier", "1er", "2e", "5e", "deuxième", "jeudi"),
    *("lundi", "dimanche", "mars", "février", "sept", "août", "31", "29", "12", "0", "00", "99", "2026"),
    *("26", "1904", "9999", "0000", "14h", "14h30", "h", ":", "/", ".", "-", "12/03", "31/02", "2026-03-12"),
    *("12.03.26", "midi", "minuit", "moins", "quart", "et", "demie", "matin", "soir", "après-midi", "demain"),
    *("après-demain", "hier", "quinze", "vingt-deux", "dix-sept", "un", "une", "heures", "minutes", "en"),
    *("huit", "semaine", "mois-ci", "'", ",", "25h", "ou", "rdv", "dernier", "de la semaine prochaine"),
]


def _only_date_errors(text: str) -> None:
    tz = ZoneInfo(PARIS)
    now = datetime(2026, 3, 10, 9, tzinfo=tz)
    for options in ({}, {"require_time": False, "allow_past": True}):
        try:
            result = parse_when(text, now=now, tz=tz, **options)
        except DateError as error:
            assert error.message == t(f"dates.{error.key}", **error.values)
        else:
            assert result.tzinfo == tz


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_only_raises_date_error(text: str) -> None:
    _only_date_errors(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=8).map(" ".join))
def test_date_like_soup_only_raises_date_error(text: str) -> None:
    _only_date_errors(text)
