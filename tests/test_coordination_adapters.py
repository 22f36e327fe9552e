"""The coordinator's behaviours through the real adapters (issue 14, acceptance 1): on Telegram (PTB's real HTTP
stack against the fake Bot API) the J-3 nudge reaches only those who have not answered and a closed meeting sends
its record; on the console the urgent alert waits for the morning and arrives once across restarts, and the
coordinator closes a meeting. Time is a frozen clock; the scheduler's jobs run when the test ticks it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.closures import Closure
from storage.members import find_member
from storage.models import Identity
from tests.adapters import ConsoleStage, Harness, Speaker, running
from tests.chat import FakeTransport
from tests.conftest import joined
from tests.fakes.telegram_api import FakeTelegram, FakeUser
from tests.test_reports import _report_by_buttons

NUDGE = "Vous n'avez pas encore répondu"
ALERT = "Signalement urgent"
RECORD = "Compte rendu"


async def run_jobs(app: App, clock: FrozenClock, at: datetime) -> None:
    """What the leader does at `at`: its jobs, then a round of the outbox (the worker may already be sending)."""
    clock.set(at)
    await app.scheduler.tick()
    await app.outbox.run_once()


def number_of(listing: str, name: str) -> int:
    """The number of `name` in the attendance list (« 3. ✅ Karim »)."""
    line = next(x for x in listing.splitlines() if x.rstrip().endswith(f" {name}"))
    return int(line.strip().split(".", 1)[0])


# --- Telegram ------------------------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def tg(settings: Settings, fake: FakeTelegram, clock: FrozenClock) -> AsyncIterator[Harness]:
    async with running(settings, fake, clock=clock) as harness:
        yield harness


def received(tg: Harness, user: FakeUser, needle: str) -> list[str]:
    return [m.plain_text for m in tg.fake.sent_to(user.chat_id) if needle in m.plain_text]


async def tick(tg: Harness, clock: FrozenClock, at: datetime) -> None:
    await run_jobs(tg.app, clock, at)
    await tg.settled()


async def test_over_telegram_the_j3_nudge_reaches_only_the_silent_and_the_closed_meeting_reaches_members(
    tg: Harness, clock: FrozenClock
) -> None:
    bot_api = tg.fake
    claire, karim = bot_api.user(6101, "Claire"), bot_api.user(6102, "Karim")
    joel, lina = bot_api.user(6103, "Joël"), bot_api.user(6104, "Lina")
    await tg.join(claire, role="coordinator")
    for referent in (karim, joel, lina):
        await tg.join(referent)

    # Claire schedules the meeting by chat, the form's buttons pressed at the fake Bot API.
    await tg.ask(claire, "/reunion", "Quel titre")
    await tg.press(claire, "Réunion trimestrielle du réseau", "Quand ?")
    await tg.ask(claire, "vendredi 20 mars à 14h", "Combien de temps")
    await tg.press(claire, "2 h", "Où ?")
    await tg.ask(claire, "Médiathèque de Fougères", "revient-elle")
    summary = await tg.press(claire, "Une seule fois", "Votre réunion")
    assert "Durée : 2 h" in summary.plain_text and "Confirmer" in summary.labels
    await tg.press(claire, "Confirmer", "C'est enregistré")

    await tick(tg, clock, datetime(2026, 3, 13, 13, 0, 20, tzinfo=UTC))  # J-7, 14:00 in Paris: the first reminder
    for person in (claire, karim, joel, lina):
        [first] = [m for m in bot_api.sent_to(person.chat_id) if m.plain_text.startswith("Rappel :")]
        assert first.labels[:3] == ["Présent", "Absent", "Peut-être"], first.labels
    await tg.press(karim, "Présent", "présent")
    await tg.press(lina, "Absent", "absent")

    await tick(tg, clock, datetime(2026, 3, 17, 12, 59, tzinfo=UTC))  # a minute before J-3: not yet
    assert received(tg, joel, NUDGE) == []
    for minute in (0, 1, 5):  # J-3 at 14:00 in Paris, then the job's next runs: once
        await tick(tg, clock, datetime(2026, 3, 17, 13, minute, 20, tzinfo=UTC))
    assert len(received(tg, joel, NUDGE)) == 1 and len(received(tg, claire, NUDGE)) == 1  # no answer from them
    assert received(tg, karim, NUDGE) == [] and received(tg, lina, NUDGE) == []  # they answered
    [nudged] = [m for m in bot_api.sent_to(joel.chat_id) if NUDGE in m.plain_text]
    assert nudged.labels[:3] == ["Présent", "Absent", "Peut-être"]
    await tg.press(joel, "Présent", "présent")  # answered from the nudge itself

    # 20 March, 16:05 in Paris: the 2-hour meeting is over, its coordinator is asked to close it.
    await tick(tg, clock, datetime(2026, 3, 20, 15, 5, tzinfo=UTC))
    assert len(received(tg, claire, "est terminée")) == 1
    listing = (await tg.press(claire, "Clore la réunion", "Qui était là")).plain_text
    assert "✅ Karim" in listing and "✅ Joël" in listing and "▫️ Lina" in listing  # from the answers
    # Karim could not come after all, Lina did, and 2 people from outside the network: one message.
    corrected = f"{number_of(listing, 'Karim')} {number_of(listing, 'Lina')} +2 ok"
    await tg.ask(claire, corrected, "compte rendu")
    await tg.ask(claire, "Point sur les permanences du samedi.", "prochaines actions")
    saved = await tg.ask(claire, "Relancer la CAF\n- Ouvrir un créneau le samedi", "C'est enregistré")
    assert "2 présent(s), 2 action(s)" in saved.plain_text
    await tg.settled()

    for person in (karim, joel, lina):
        [record] = received(tg, person, RECORD)
        assert "Présents : 2 membre(s) du réseau, et 2 participant(s) hors réseau" in record
        assert "Point sur les permanences du samedi." in record
        assert "- Relancer la CAF\n- Ouvrir un créneau le samedi" in record
    assert received(tg, claire, RECORD) == []  # she wrote it
    async with tg.app.sessions() as session:
        closure = (await session.execute(select(Closure).options(selectinload(Closure.attendees)))).scalar_one()
        came = {(await find_member(session, "telegram", str(u.id))).id for u in (joel, lina)}  # type: ignore[union-attr]
        assert {a.member_id for a in closure.attendees} == came and closure.others == 2
    await tg.ask(claire, "/cloturer", "Aucune réunion passée")


async def test_over_telegram_the_urgent_alert_waits_for_morning_across_a_restart_and_arrives_once(
    settings: Settings, fake: FakeTelegram, clock: FrozenClock
) -> None:
    claire, karim = fake.user(6201, "Claire"), fake.user(6202, "Karim")
    clock.set(datetime(2026, 3, 10, 20, 30, tzinfo=UTC))  # 21:30 in Paris: the default quiet hours (20 h–8 h)
    async with running(settings, fake, clock=clock) as evening:
        await evening.join(claire, role="coordinator")
        await evening.join(karim)
        await evening.ask(karim, "/signaler", "Quel type de problème")
        await evening.press(karim, "Démarche en ligne", "Dans quelle commune")
        await evening.press(karim, "Romagné", "Que se passe-t-il")
        await evening.ask(karim, "Le portail ANTS refuse les dossiers depuis lundi.", "Quel public")
        await evening.press(karim, "Seniors", "Est-ce urgent")
        await evening.press(karim, "Urgent", "Votre signalement")
        reference = (await evening.press(karim, "Envoyer", "Merci")).plain_text.split("S-", 1)[1][:10]
        await tick(evening, clock, clock.now())
        assert received(evening, claire, ALERT) == []
    # the bot stops overnight and starts again on the same database
    async with running(settings, fake, clock=clock) as morning:
        await tick(morning, clock, datetime(2026, 3, 11, 6, 59, tzinfo=UTC))  # 07:59: still quiet
        assert received(morning, claire, ALERT) == []
        for minute in (0, 1, 2):  # 08:00, then the job's next runs
            await tick(morning, clock, datetime(2026, 3, 11, 7, minute, tzinfo=UTC))
        [alert] = received(morning, claire, ALERT)
        assert f"S-{reference}" in alert and "Signalé par : Karim" in alert
        taken = await morning.press(claire, "Je m'en occupe", "s'occupe de")
        assert f"S-{reference}" in taken.plain_text
        await morning.answer(karim, 0, "pris en compte par la coordination")


# --- console -------------------------------------------------------------------------------------------------


async def console_stage(settings: Settings, clock: FrozenClock, transport: FakeTransport,
                        tmp_path: Path) -> ConsoleStage:
    stage = ConsoleStage(settings, None, tmp_path / "exports", clock=clock, beside=[transport])
    await stage.start()
    return stage


@pytest.fixture
async def console(settings: Settings, clock: FrozenClock, transport: FakeTransport,
                  tmp_path: Path) -> AsyncIterator[ConsoleStage]:
    """`relais console` (the coordinator) with the other members beside it on the fake transport. The demo's
    console members (`relais console --as …`) are taken off the console: here the console is one person."""
    stage = await console_stage(settings, clock, transport, tmp_path)
    async with app_of(stage).sessions() as session, session.begin():
        await session.execute(delete(Identity).where(Identity.platform == "console"))
    yield stage
    await stage.close()


def app_of(stage: ConsoleStage) -> App:
    assert stage.app is not None
    return stage.app


async def test_the_console_prints_only_what_is_addressed_to_its_person(
    settings: Settings, clock: FrozenClock, transport: FakeTransport, tmp_path: Path
) -> None:
    """With the demo seed (as `relais console` runs), the demo's coordinator Claire lives on the console too: her
    copy of an urgent alert is printed to the console person, who then sees the alert twice."""
    stage = await console_stage(settings, clock, transport, tmp_path)
    try:
        me = await stage.person("coordinator", "Claire")
        karim = await joined(app_of(stage), transport, "referent", "u-karim", territory="35-fougeres",
                             name="Karim")
        mark = me.mark()
        await _report_by_buttons(karim)  # 09:00 in Paris: no quiet hours
        await run_jobs(app_of(stage), clock, clock.now())
        await me.hears(ALERT)
        await me.settle()
        assert len(lines_with(me, mark, ALERT)) == 1
    finally:
        await stage.close()


def lines_with(person: Speaker, mark: int, needle: str) -> list[str]:
    return [text for text in person.since(mark) if needle in text]


async def test_on_the_console_the_urgent_alert_waits_for_morning_and_arrives_once_across_restarts(
    console: ConsoleStage, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await console.person("coordinator", "Claire")
    karim = await joined(app_of(console), transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    mark = claire.mark()

    clock.set(datetime(2026, 3, 10, 20, 30, tzinfo=UTC))  # 21:30 in Paris: the default quiet hours (20 h–8 h)
    reference = (await _report_by_buttons(karim)).split("**")[1]
    await run_jobs(app_of(console), clock, clock.now())
    await claire.settle()
    assert lines_with(claire, mark, ALERT) == []

    await console.restart()  # the bot stops overnight, starts again on the same database
    await run_jobs(app_of(console), clock, datetime(2026, 3, 11, 6, 59, tzinfo=UTC))  # 07:59: still quiet
    await claire.settle()
    assert lines_with(claire, mark, ALERT) == []
    await run_jobs(app_of(console), clock, datetime(2026, 3, 11, 7, 0, tzinfo=UTC))  # 08:00
    alert = await claire.hears(ALERT)
    assert reference in alert.text and "Signalé par : Karim" in alert.text
    assert alert.choices() == ["Je m'en occupe", "Ouvrir"]

    await console.restart()
    for minute in (1, 2):  # later runs, after another restart: nothing more
        await run_jobs(app_of(console), clock, datetime(2026, 3, 11, 7, minute, tzinfo=UTC))
    await claire.settle()
    assert len(lines_with(claire, mark, ALERT)) == 1
    taken = await claire.press("Je m'en occupe", "s'occupe de")
    assert reference in taken.text
    await app_of(console).outbox.run_once()
    assert any("pris en compte par la coordination" in r.text for r in transport.to("u-karim"))


async def schedule_on_console(claire: Speaker, when: str) -> None:
    await claire.say("/reunion", "Quel titre")
    await claire.press("Réunion trimestrielle du réseau", "Quand ?")
    await claire.say(when, "Combien de temps")
    await claire.press("2 h", "Où ?")
    await claire.say("Médiathèque de Fougères", "revient-elle")
    summary = await claire.press("Une seule fois", "Votre réunion")
    assert "Durée : 2 h" in summary.text and "Confirmer" in summary.choices()
    await claire.press("Confirmer", "C'est enregistré")


async def test_on_the_console_the_coordinator_is_nudged_then_closes_the_meeting_and_members_get_the_actions(
    console: ConsoleStage, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire = await console.person("coordinator", "Claire")
    app = app_of(console)
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "referent", "u-joel", territory="35-fougeres", name="Joël")
    await schedule_on_console(claire, "vendredi 20 mars à 14h")

    await run_jobs(app, clock, datetime(2026, 3, 13, 13, 0, 20, tzinfo=UTC))  # J-7: the first reminder
    await claire.hears("Rappel")
    await karim.pick("Présent")
    mark = claire.mark()
    for minute in (0, 1, 5):  # J-3 and the job's next runs
        await run_jobs(app, clock, datetime(2026, 3, 17, 13, minute, 20, tzinfo=UTC))
    await claire.settle()
    assert len(lines_with(claire, mark, NUDGE)) == 1  # the console coordinator has not answered
    assert sum(NUDGE in r.text for r in transport.to("u-joel")) == 1
    assert not any(NUDGE in r.text for r in transport.to("u-karim"))

    await run_jobs(app, clock, datetime(2026, 3, 20, 15, 5, tzinfo=UTC))  # 16:05 in Paris: over
    await claire.hears("est terminée")
    listing = (await claire.press("Clore la réunion", "Qui était là")).text
    assert "✅ Karim" in listing and "▫️ Joël" in listing
    await claire.say(f"{number_of(listing, 'Joël')} +1 ok", "compte rendu")
    await claire.say("Point sur les permanences du samedi.", "prochaines actions")
    # the console sends one line per message: the actions separated by « ; »
    saved = await claire.say("Relancer la CAF ; Ouvrir un créneau le samedi", "C'est enregistré")
    assert "2 présent(s), 2 action(s)" in saved.text
    await app.outbox.run_once()

    for person in ("u-karim", "u-joel"):
        [record] = [r.text for r in transport.to(person) if RECORD in r.text]
        assert "Présents : 2 membre(s) du réseau, et 1 participant(s) hors réseau" in record
        assert "- Relancer la CAF\n- Ouvrir un créneau le samedi" in record
    assert lines_with(claire, 0, RECORD) == []
    await claire.say("/cloturer", "Aucune réunion passée")
