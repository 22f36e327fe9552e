"""Meetings that close: J-3 nudge to the silent only, attendance from the answers corrected in one message, summary
and actions sent to members and brought back in the next date's first reminder; the length reaches the .ics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.app import App
from bot.clock import FrozenClock
from bot.events import Reply
from storage.closures import Closure
from storage.members import find_member
from tests.chat import Chat, FakeTransport
from tests.conftest import joined
from tests.test_meetings import remind, reminders, schedule


def number_of(listing: str, name: str) -> int:
    line = next(x for x in listing.splitlines() if x.endswith(f" {name}"))
    return int(line.split(".", 1)[0])


def texts(transport: FakeTransport, chat_id: str, start: str) -> list[Reply]:
    return [r for r in transport.to(chat_id) if r.text.startswith(start)]


async def test_the_j3_nudge_reaches_only_members_who_have_not_answered(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "referent", "u-joel", territory="35-fougeres", name="Joël")
    await schedule(claire, "vendredi 20 mars à 14h")
    await remind(app, clock, datetime(2026, 3, 13, 13, 0, 20, tzinfo=UTC))  # J-7
    await karim.pick("Présent")
    await remind(app, clock, datetime(2026, 3, 17, 12, 59, tzinfo=UTC))
    assert texts(transport, "u-joel", "**Vous n'avez pas encore répondu") == []
    for minute in (0, 1, 5):  # J-3 at 14:00 Paris, then the job's next runs
        await remind(app, clock, datetime(2026, 3, 17, 13, minute, 20, tzinfo=UTC))
    nudged = texts(transport, "u-joel", "**Vous n'avez pas encore répondu")
    assert len(nudged) == 1 and [c.label for c in nudged[0].choices] == ["Présent", "Absent", "Peut-être"]
    assert len(texts(transport, "u-claire", "**Vous n'avez pas encore répondu")) == 1
    assert texts(transport, "u-karim", "**Vous n'avez pas encore répondu") == []  # he answered
    answered = await Chat(app, transport, "u-joel").pick("Absent")
    assert "C'est noté : **absent**" in answered[0].text  # the press is confirmed by a message


async def close_first_meeting(app: App, transport: FakeTransport, clock: FrozenClock, claire: Chat,
                              karim: Chat) -> str:
    """A monthly 3-hour meeting on 12 March, Karim says yes, Claire closes it with Joël added and 2 guests."""
    summary = await schedule(claire, "jeudi 12 mars à 14h", every="mensuelle", length="3 h")
    assert "Durée : 3 h" in summary
    await remind(app, clock, datetime(2026, 3, 11, 13, 0, 20, tzinfo=UTC))  # J-1
    first = reminders(transport, "u-karim")[-1]
    assert first.attachment and b"DTEND;TZID=Europe/Paris:20260312T170000" in first.attachment.data
    await karim.pick("Présent")
    assert "Aucune réunion passée" in await claire.text("/cloturer")  # not over yet

    await remind(app, clock, datetime(2026, 3, 12, 16, 5, tzinfo=UTC))  # 17:05 Paris: over
    asked = texts(transport, "u-claire", "La réunion **Réunion trimestrielle du réseau**")
    assert len(asked) == 1
    await remind(app, clock, datetime(2026, 3, 12, 16, 10, tzinfo=UTC))
    assert len(texts(transport, "u-claire", "La réunion **")) == 1  # asked once
    listing = (await claire.pick("Clore la réunion"))[0].text
    assert "✅ Karim" in listing and "▫️ Joël" in listing
    joel = number_of(listing, "Joël")
    assert "de 1 à" in (await claire.say("99"))[0].text
    done = (await claire.say(f"{joel} +2 ok"))[0].text
    assert "compte rendu" in done
    await claire.say("Point sur les permanences du samedi ; appelez le 06 12 34 56 78 pour la salle.")
    saved = (await claire.say("Relancer la CAF\n- Ouvrir un créneau le samedi"))[0].text
    assert "2 présent(s), 2 action(s)" in saved
    return saved


async def test_closing_records_attendance_sends_the_actions_and_they_come_back_next_time(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "referent", "u-joel", territory="35-fougeres", name="Joël")
    await close_first_meeting(app, transport, clock, claire, karim)
    await app.outbox.run_once()

    for person in ("u-karim", "u-joel"):
        [report] = texts(transport, person, "**Compte rendu")
        assert "Présents : 2 membre(s) du réseau, et 2 participant(s) hors réseau" in report.text
        assert "- Relancer la CAF\n- Ouvrir un créneau le samedi" in report.text
        assert "06 12" not in report.text  # masked like reports
    assert texts(transport, "u-claire", "**Compte rendu") == []
    async with app.sessions() as session:
        closure = (await session.execute(select(Closure).options(selectinload(Closure.attendees)))).scalar_one()
        ids = {(await find_member(session, "test", u)).id for u in ("u-karim", "u-joel")}  # type: ignore[union-attr]
        assert {a.member_id for a in closure.attendees} == ids and closure.others == 2 and closure.structures == 2
    assert "Aucune réunion passée" in await claire.text("/cloturer")

    await remind(app, clock, datetime(2026, 4, 2, 12, 0, 20, tzinfo=UTC))  # J-7 of 9 April, 14:00 Paris
    nxt = reminders(transport, "u-karim")[-1]
    assert "9 avril" in nxt.text and "Actions décidées la dernière fois" in nxt.text and "Relancer la CAF" in nxt.text
    await remind(app, clock, datetime(2026, 4, 8, 12, 0, 20, tzinfo=UTC))  # J-1: not again
    assert "Relancer" not in reminders(transport, "u-karim")[-1].text


async def test_only_coordinators_close_and_a_date_closes_once(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "referent", "u-joel", territory="35-fougeres", name="Joël")
    assert "réservée aux coordinateurs" in await karim.text("/cloturer")
    await close_first_meeting(app, transport, clock, claire, karim)
    again = await claire.pick("Clore la réunion")  # the old prompt's button, pressed again
    assert "déjà close" in again[0].text
    clock.advance(timedelta(minutes=1))
