"""Network meetings: scheduling in plain French, answers, coordinators' view, reminders at local instants, .ics."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.events import ChoiceMade, Reply
from handlers.dates.french import MONTHS
from handlers.meetings.calendar import CalendarEvent, invitation
from handlers.meetings.reminders import parse_french_offsets
from handlers.meetings.schedule import parse_every
from storage.demo import seed_demo_meetings
from storage.meetings import Meeting, NewMeeting, create_meeting, reminder_instant, rule_dates
from storage.models import OutboxMessage
from storage.territories import add_territory, by_code
from tests.chat import Chat, FakeTransport
from tests.conftest import joined

PARIS, GUADELOUPE, REUNION = ZoneInfo("Europe/Paris"), ZoneInfo("America/Guadeloupe"), ZoneInfo("Indian/Reunion")
LATE = "(rappel envoyé en retard)"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def remind(app: App, clock: FrozenClock, at: datetime) -> None:
    """What the leader does at `at`: run the jobs, then one round of the outbox."""
    clock.set(at)
    await app.scheduler.tick()
    await app.outbox.run_once()


def reminders(transport: FakeTransport, chat_id: str) -> list[Reply]:
    return [r for r in transport.to(chat_id) if r.text.startswith("**Rappel")]


async def schedule(chat: Chat, when: str, *, every: str = "Une seule fois", place: str = "Médiathèque",
                   length: str = "2 h") -> str:
    """The whole /reunion flow with buttons; returns the summary shown before « Confirmer »."""
    await chat.say("/reunion")
    await chat.pick("Réunion trimestrielle du réseau")
    await chat.say(when)
    await chat.pick(length) if length.endswith(" h") else await chat.say(length)
    await chat.say(place)
    summary = await chat.pick(every) if every in ("Une seule fois", "Tous les 3 mois") else await chat.say(every)
    assert "Confirmer" in [c.label for c in summary[-1].choices]
    saved = await chat.pick("Confirmer")
    assert "C'est enregistré" in saved[0].text
    return summary[-1].text


async def meeting_at(app: App, code: str, local: datetime, rule: str | None = None) -> Meeting:
    async with app.sessions() as session, session.begin():
        territory = await by_code(session, code)
        assert territory is not None
        start = local.replace(tzinfo=ZoneInfo(territory.timezone)).astimezone(UTC)
        new = NewMeeting(territory.id, "Réunion trimestrielle", "Médiathèque", start, rule, None, f"t:{code}:{local}")
        return await create_meeting(session, new, app.clock.now())


# --- pure rules ----------------------------------------------------------------------------------------------


def test_a_quarterly_14h_meeting_stays_14h_local_across_daylight_saving() -> None:
    rule = "FREQ=MONTHLY;INTERVAL=3;BYDAY=+2TH"
    paris = rule_dates(rule, utc(2026, 1, 8, 13), PARIS, utc(2026, 1, 1), utc(2027, 2, 1))
    assert paris == [utc(2026, 1, 8, 13), utc(2026, 4, 9, 12), utc(2026, 7, 9, 12), utc(2026, 10, 8, 12),
                     utc(2027, 1, 14, 13)]
    assert {d.astimezone(PARIS).hour for d in paris} == {14}
    assert {d.hour for d in rule_dates(rule, utc(2026, 1, 8, 18), GUADELOUPE, utc(2026, 1, 1), utc(2027, 1, 1))} == {18}
    assert {d.hour for d in rule_dates(rule, utc(2026, 1, 8, 10), REUNION, utc(2026, 1, 1), utc(2027, 1, 1))} == {10}


def test_days_before_count_on_the_wall_clock_and_hours_elapse() -> None:
    meeting = utc(2026, 4, 2, 12)  # 14:00 in Paris, four days after the change to summer time
    assert reminder_instant(meeting, "7d", PARIS) == utc(2026, 3, 26, 13)  # 14:00 in winter time
    assert reminder_instant(meeting, "1d", PARIS) == utc(2026, 4, 1, 12)
    assert reminder_instant(meeting, "2h", PARIS) == utc(2026, 4, 2, 10)


@pytest.mark.parametrize(("text", "months"), [
    ("tous les trimestres", 3), ("Tous les 3 mois", 3), ("trimestrielle", 3), ("tous les mois", 1),
    ("tous les 6 mois", 6), ("une seule fois", 0), ("non", 0), ("aucune", 0), ("parfois", None),
    ("tous les 40 mois", None),
])
def test_recurrence_in_plain_french(text: str, months: int | None) -> None:
    assert parse_every(text) == months


@pytest.mark.parametrize(("text", "codes"), [
    ("7j 1j 2h", ("7d", "1d", "2h")), ("2 heures, 1 jour et 7 jours", ("7d", "1d", "2h")),
    ("2 semaines 30 min", ("14d", "30m")), ("3j", ("3d",)),
])
def test_reminder_offsets_in_plain_french(text: str, codes: tuple[str, ...]) -> None:
    assert parse_french_offsets(text) == codes


@pytest.mark.parametrize("text", ["demain", "7j et puis 2h", "1 min", "90j", "1j 2j 3j 4j 5j 6j"])
def test_unusable_reminder_offsets_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_french_offsets(text)


def test_the_ics_carries_its_time_zone_and_a_stable_uid() -> None:
    event = CalendarEvent(uid="relais-meeting-4-20260312T1300Z@relais", title="Réunion trimestrielle",
                          place="Médiathèque", starts_at=utc(2026, 3, 12, 13), tz=PARIS, stamp=utc(2026, 3, 1),
                          sequence=2)
    data = invitation(event)
    assert b"DTSTART;TZID=Europe/Paris:20260312T140000" in data and b"BEGIN:VTIMEZONE" in data
    parsed = icalendar.Calendar.from_ical(data)
    vevent = next(c for c in parsed.walk("VEVENT"))
    assert str(vevent["uid"]) == event.uid and vevent.decoded("sequence") == 2
    assert vevent.decoded("dtstart") == utc(2026, 3, 12, 13)
    assert invitation(event) == data  # same date, same bytes
    assert {str(tz["tzid"]) for tz in parsed.walk("VTIMEZONE")} == {"Europe/Paris"}


# --- scheduling ----------------------------------------------------------------------------------------------


async def test_a_coordinator_schedules_a_quarterly_meeting_echoed_unambiguously(
    app: App, transport: FakeTransport
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    assert "réservée aux coordinateurs" in await karim.text("/reunion")

    await claire.say("/reunion")
    await claire.pick("Réunion trimestrielle du réseau")
    assert "Il manque l'heure" in await claire.text("jeudi 12 mars")
    await claire.say("jeudi 12 mars à 14h")
    assert "Je n'ai pas compris la durée" in await claire.text("longtemps")
    await claire.say("1h30")
    await claire.say("Médiathèque La Clairière, Fougères")
    summary = (await claire.say("tous les trimestres"))[-1].text
    assert "Durée : 1 h 30" in summary
    assert "**jeudi 12 mars 2026 à 14 h 00, heure de Paris**" in summary
    assert "tous les 3 mois, le 2e jeudi du mois" in summary and "jeudi 11 juin 2026" in summary
    assert "7 jours, 1 jour et 2 heures avant" in summary

    await claire.pick("Modifier")
    await claire.pick("La date")
    summary = (await claire.say("vendredi 13 mars à 10h30"))[-1].text
    assert "vendredi 13 mars 2026 à 10 h 30, heure de Paris" in summary and "2e vendredi" in summary
    saved = (await claire.pick("Confirmer"))[0].text
    assert "Réunion trimestrielle du réseau" in saved and "membres du Réseau du Pays de Fougères recevront" in saved

    async with app.sessions() as session:
        meeting = (await session.execute(select(Meeting))).unique().scalar_one()
    assert meeting.starts_at == utc(2026, 3, 13, 9, 30)
    assert meeting.rrule == "FREQ=MONTHLY;INTERVAL=3;BYDAY=+2FR" and meeting.duration_minutes == 90
    assert "déjà pris en compte" in (await claire.pick("Confirmer"))[0].text


# --- reminders -----------------------------------------------------------------------------------------------


async def test_reminders_fire_at_the_right_local_instants_with_answer_buttons(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await schedule(claire, "vendredi 20 mars à 14h")  # 13:00 UTC
    instants = [utc(2026, 3, 13, 13), utc(2026, 3, 19, 13), utc(2026, 3, 20, 11)]  # J-7, J-1, H-2
    for number, instant in enumerate(instants, start=1):
        await remind(app, clock, instant - timedelta(minutes=1))
        assert len(reminders(transport, "u-karim")) == number - 1
        await remind(app, clock, instant + timedelta(seconds=20))
        got = reminders(transport, "u-karim")
        assert len(got) == number and len(reminders(transport, "u-claire")) == number
        assert "vendredi 20 mars 2026 à 14 h 00, heure de Paris" in got[-1].text and LATE not in got[-1].text
        assert [c.label for c in got[-1].choices] == ["Présent", "Absent", "Peut-être"]
        assert got[-1].prompt_id == "rsvp" and all(len(f"rsvp|{c.id}") <= 64 for c in got[-1].choices)
        assert (got[-1].attachment is not None) == (number == 1)  # the .ics comes with the first one only
        if number == 1:
            assert got[0].attachment and b"TZID=Europe/Paris:20260320T140000" in got[0].attachment.data
            assert "dans 7 jours" in got[0].text
            noted = await karim.pick("Présent")
            assert "C'est noté : **présent**" in noted[0].text
    assert "Votre réponse : **présent**" in reminders(transport, "u-karim")[-1].text
    assert "Serez-vous là ?" in reminders(transport, "u-claire")[-1].text
    await remind(app, clock, utc(2026, 3, 20, 14))
    assert len(reminders(transport, "u-karim")) == 3


async def test_a_reminder_is_answered_by_typing_its_number_as_on_matrix_and_the_console(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire-t", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim-t", territory="35-fougeres", name="Karim")
    await schedule(claire, "vendredi 20 mars à 14h")
    await remind(app, clock, utc(2026, 3, 19, 13, 0, 20))  # J-1
    assert "C'est noté : **absent**" in await karim.text("2")
    await claire.say("/nom")  # in the middle of a flow, « 1 » answers the flow, not the reminder
    await remind(app, clock, utc(2026, 3, 20, 11, 0, 20))  # H-2
    assert "Votre nom sera" in await claire.text("Claire B.")
    assert "Votre réponse : **absent**" in reminders(transport, "u-karim-t")[-1].text


async def test_a_reminder_missed_beyond_the_grace_period_is_logged_by_ids_and_skipped(
    app: App, transport: FakeTransport, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    meeting = await meeting_at(app, "35-fougeres", datetime(2026, 3, 12, 14))  # noqa: DTZ001 (local wall time)
    with caplog.at_level(logging.INFO, logger="handlers.meetings.reminders"):
        await remind(app, clock, utc(2026, 3, 11, 13) + timedelta(hours=6, minutes=1))  # J-1 missed by 6 h 01
        await remind(app, clock, utc(2026, 3, 11, 19, 30))
    assert reminders(transport, "u-karim") == []
    missed = [r.getMessage() for r in caplog.records if "missed" in r.getMessage()]
    assert len(missed) == 1 and f"meeting={meeting.id}" in missed[0] and "reminder=1d" in missed[0]
    assert "Karim" not in caplog.text and "Médiathèque" not in caplog.text
    await remind(app, clock, utc(2026, 3, 12, 11, 0, 30))  # H-2 comes on time
    assert len(reminders(transport, "u-karim")) == 1
    await remind(app, clock, utc(2026, 3, 12, 14))  # the meeting has started: nothing more, ever
    assert len(reminders(transport, "u-karim")) == 1


async def test_overseas_members_read_their_own_local_time(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    maelle = await joined(app, transport, "coordinator", "u-maelle", territory="971-nord-gt", name="Maëlle")
    summary = await schedule(maelle, "jeudi 12 mars à 14h")
    assert "jeudi 12 mars 2026 à 14 h 00, heure de Guadeloupe" in summary
    await remind(app, clock, utc(2026, 3, 11, 18))  # J-1 at 14:00 in Guadeloupe
    assert "heure de Guadeloupe" in reminders(transport, "u-maelle")[0].text

    async with app.sessions() as session, session.begin():
        await add_territory(session, code="fr", name="Réseau national", timezone="Europe/Paris", now=clock.now())
        await add_territory(session, code="974-sud", name="Réseau Sud", parent="fr", timezone="Indian/Reunion",
                            now=clock.now())
    national = await joined(app, transport, "coordinator", "u-national", territory="fr", name="Nadia")
    lea = await joined(app, transport, "referent", "u-lea", territory="974-sud", name="Léa")
    await schedule(national, "mardi 17 mars à 10h", place="Visio : https://visio.example.org/national")
    await remind(app, clock, utc(2026, 3, 16, 9))  # J-1: 10:00 in Paris is 13:00 in La Réunion
    assert "mardi 17 mars 2026 à 13 h 00, heure de La Réunion" in reminders(transport, "u-lea")[0].text
    assert "mardi 17 mars 2026 à 10 h 00, heure de Paris" in reminders(transport, "u-national")[0].text
    assert "13 h 00, heure de La Réunion" in (await lea.say("/reunions"))[0].text


# --- answers and the coordinators' view ----------------------------------------------------------------------


async def test_members_answer_from_the_list_and_coordinators_see_who_has_not(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    joel = await joined(app, transport, "referent", "u-joel", territory="971-nord-gt", name="Joël")
    assert "Aucune réunion" in await karim.text("/reunions")
    await schedule(claire, "jeudi 12 mars à 14h", every="Tous les 3 mois")

    listing = (await karim.say("/reunions"))[0].text
    assert "jeudi 12 mars 2026 à 14 h 00, heure de Paris" in listing and "pas encore répondu" in listing
    detail = (await karim.pick("Réunion trimestrielle du réseau (12/03)"))[0]
    assert "tous les 3 mois" in detail.text and [c.label for c in detail.choices] == ["Présent", "Absent", "Peut-être"]
    assert "C'est noté : **peut-être**" in (await karim.pick("Peut-être"))[0].text
    assert "Votre réponse : peut-être" in (await karim.say("/reunions"))[0].text
    assert "Aucune réunion" in await joel.text("/reunions")

    await claire.say("/reunions")
    view = (await claire.pick("Réunion trimestrielle du réseau (12/03)"))[0]
    assert "0 présent(s) · 0 absent(s) · 1 peut-être · 3 sans réponse" in view.text  # with the 2 demo members
    assert view.text.split("Sans réponse :\n")[1].splitlines()[:4] == [
        "- Claire, coordinatrice Pays de Fougères", "- Karim, conseiller numérique à Romagné", "- Claire",
        "Serez-vous là ? Répondez ci-dessous, ou avec /reunions."]
    assert {"Déplacer", "Annuler cette date", "Arrêter la série"} <= {c.label for c in view.choices}
    await claire.pick("Présent")

    await remind(app, clock, utc(2026, 3, 11, 13))  # a reminder's button works, for the right person only
    button = reminders(transport, "u-karim")[0].choices[1]
    await app.dispatcher.handle(ChoiceMade(joel.address, "rsvp", button.id, "x1"))
    assert "vous n'êtes pas invité" in transport.to("u-joel")[-1].text
    assert "C'est noté : **absent**" in (await karim.pick("Absent"))[0].text
    clock.set(utc(2026, 3, 12, 15))
    assert "plus prévue" in (await karim.pick("Présent"))[0].text  # the meeting is over


async def test_moving_then_cancelling_a_date_tells_everyone_and_reminders_follow(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await schedule(claire, "jeudi 12 mars à 14h", every="Tous les 3 mois")
    await karim.say("/reunions")
    await karim.pick("Réunion trimestrielle du réseau (12/03)")
    await karim.pick("Présent")

    await claire.say("/reunions")
    await claire.pick("Réunion trimestrielle du réseau (12/03)")
    await claire.pick("Déplacer")
    asked = (await claire.say("mardi 17 mars à 9h30"))[0].text
    assert "Ancienne date : jeudi 12 mars 2026 à 14 h 00" in asked and "**mardi 17 mars 2026 à 9 h 30" in asked
    assert "4 membre(s)" in (await claire.pick("Confirmer"))[0].text  # with the 2 demo members
    await app.outbox.run_once()
    notice = [r for r in transport.to("u-karim") if "Réunion déplacée" in r.text][0]
    assert "Nouvelle date : **mardi 17 mars 2026 à 9 h 30, heure de Paris**" in notice.text
    assert "Votre réponse reste : **présent**" in notice.text and notice.prompt_id == "rsvp"
    assert notice.attachment is not None
    vevent = icalendar.Calendar.from_ical(notice.attachment.data).walk("VEVENT")[0]
    assert str(vevent["uid"]).endswith("-20260312T1300Z@relais") and vevent.decoded("sequence") == 1
    assert vevent.decoded("dtstart") == utc(2026, 3, 17, 8, 30)

    await remind(app, clock, utc(2026, 3, 11, 13))  # the old J-1: nothing
    assert reminders(transport, "u-karim") == []
    await remind(app, clock, utc(2026, 3, 16, 8, 30))  # the new J-1
    assert "mardi 17 mars 2026 à 9 h 30" in reminders(transport, "u-karim")[0].text

    await claire.say("/reunions")
    await claire.pick("Réunion trimestrielle du réseau (17/03)")
    await claire.pick("Annuler cette date")
    await claire.pick("Oui, annuler")
    await app.outbox.run_once()
    cancelled = [r for r in transport.to("u-karim") if "Réunion annulée" in r.text][0]
    assert cancelled.attachment and b"STATUS:CANCELLED" in cancelled.attachment.data
    assert icalendar.Calendar.from_ical(cancelled.attachment.data).walk("VEVENT")[0].decoded("sequence") == 2
    assert "mardi 17 mars 2026 à 9 h 30" in cancelled.text
    await remind(app, clock, utc(2026, 3, 17, 7, 30))  # the H-2 of the cancelled date: nothing
    assert len(reminders(transport, "u-karim")) == 1
    assert "jeudi 11 juin 2026" in (await karim.say("/reunions"))[0].text  # the series goes on

    await claire.say("/reunions")
    await claire.pick("Réunion trimestrielle du réseau (11/06)")
    await claire.pick("Arrêter la série")
    await claire.pick("Oui, arrêter")
    await app.outbox.run_once()
    assert any("Fin des réunions" in r.text for r in transport.to("u-karim"))
    assert "Aucune réunion" in await karim.text("/reunions")


async def test_a_territory_chooses_its_reminders_and_the_networks_below_inherit(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    departement = await joined(app, transport, "coordinator", "u-dep", territory="35", name="Dominique")
    await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    assert "**7 jours, 1 jour et 2 heures**" in await departement.text("/rappels")
    assert "Je n'ai pas compris" in await departement.text("/rappels bientôt")
    assert "**3 jours et 30 minutes**" in await departement.text("/rappels 3j 30 min")
    await meeting_at(app, "35-fougeres", datetime(2026, 3, 20, 14))  # noqa: DTZ001 (local wall time)
    await remind(app, clock, utc(2026, 3, 13, 13))  # the default J-7: no more
    assert reminders(transport, "u-karim") == []
    for instant in (utc(2026, 3, 17, 13), utc(2026, 3, 19, 13), utc(2026, 3, 20, 11), utc(2026, 3, 20, 12, 30)):
        await remind(app, clock, instant)  # J-3 and H-0:30 only
    assert [r.text.split("\n")[0] for r in reminders(transport, "u-karim")] == [
        "**Rappel : réunion dans 3 jours**", "**Rappel : réunion aujourd'hui**"]


async def test_demo_meetings_are_days_ahead_on_a_weekday_so_j1_fires_for_each_local_network(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    async with app.sessions() as session, session.begin():
        created = await seed_demo_meetings(session, clock.now())
    assert len(created) == 3 and all(m.rrule and m.rrule.startswith("FREQ=MONTHLY;INTERVAL=3") for m in created)
    await remind(app, clock, clock.now())
    async with app.sessions() as session:
        keys = list((await session.execute(select(OutboxMessage.key))).scalars())
    assert not [k for k in keys if k.startswith("reminder:")]  # J-7 was before they were planned
    await remind(app, clock, utc(2026, 3, 15, 18, 0, 10))  # J-1 in Guadeloupe (the 15th fell on a Sunday: Monday 16th)
    async with app.sessions() as session:
        keys = list((await session.execute(select(OutboxMessage.key))).scalars())
    assert len([k for k in keys if k.startswith("reminder:") and ":1d:" in k]) == 4  # the 4 members of local networks


# --- through the real command line ---------------------------------------------------------------------------


def _relais(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=f"sqlite:///{tmp_path / 'relais.db'}", RELAIS_DATA_DIR=str(tmp_path / "data"),
               RELAIS_DEMO_CONTENT="false")
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)


def test_console_meeting_then_processes_restarted_across_its_reminder_send_it_once_late(tmp_path: Path) -> None:
    """Scheduled in `relais console`; `relais reminders --now` plays the scheduler of a bot that was down at J-1
    and then restarted twice. Real processes, on SQLite (the PostgreSQL path is the same code, tested in-process)."""
    day = (datetime.now(PARIS) + timedelta(days=5)).date()
    local = datetime(day.year, day.month, day.day, 14, tzinfo=PARIS)
    typed = f"{day.day} {MONTHS[day.month - 1]} {day.year} à 14h"
    console = _relais(tmp_path, "console", "--as", "coordinator",
                      stdin=f"/reunion\n1\n{typed}\n2\nMédiathèque de Fougères\n2\n1\n")
    assert console.returncode == 0, console.stderr
    assert f"{day.day if day.day > 1 else '1er'} {MONTHS[day.month - 1]} {day.year} à 14 h 00, heure de Paris" \
        in console.stdout
    assert "C'est enregistré" in console.stdout

    j1 = (local - timedelta(days=1)).astimezone(UTC)
    restarted = _relais(tmp_path, "reminders", "--now", (j1 + timedelta(hours=3)).isoformat())
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.count("Rappel : réunion demain") == 2  # Claire and Karim, the demo network
    assert restarted.stdout.count(LATE) == 2
    assert "rappel 1 jour — mis en file, en retard, 2 message(s)" in restarted.stdout
    ics = (tmp_path / "data" / "exports" / "reunion.ics").read_bytes()
    assert f"TZID=Europe/Paris:{day:%Y%m%d}T140000".encode() in ics

    again = _relais(tmp_path, "reminders", "--now", (j1 + timedelta(hours=3, minutes=1)).isoformat())
    assert again.returncode == 0 and "Rappel" not in again.stdout and "Aucun rappel" in again.stdout
    assert "Traceback" not in restarted.stderr + again.stderr + console.stderr
