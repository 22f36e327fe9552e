"""Urgent reports reach the territory's coordinators once, with buttons, and wait for the morning in quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.events import Reply
from storage.members import find_member
from storage.reports import NewReport, create_report
from storage.territories import by_code
from tests.chat import Chat, FakeTransport
from tests.conftest import joined
from tests.test_reports import _report_by_buttons
from tests.test_telegram import Harness, fake, tg  # noqa: F401 (the fake Bot API and the running bot)


def alerts(transport: FakeTransport, chat_id: str) -> list[Reply]:
    return [r for r in transport.to(chat_id) if "Signalement urgent" in r.text]


async def run_jobs(app: App) -> None:
    await app.scheduler.tick()
    await app.outbox.run_once()


async def urgent_report(app: App, author_user: str, description: str = "Le site de la CAF est bloqué.") -> str:
    async with app.sessions() as session, session.begin():
        author = await find_member(session, "test", author_user)
        assert author is not None
        new = NewReport(author.id, author.territory_id, "demarche", "35243", "35", description, "seniors", "urgent",
                        (), f"t-{description}")
        return (await create_report(session, new, app.clock.now())).reference


async def test_an_urgent_report_alerts_its_coordinators_and_the_linked_group_exactly_once(
    app: App, transport: FakeTransport
) -> None:
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    dept = await joined(app, transport, "coordinator", "u-dept", territory="35", name="Dominique")
    other = await joined(app, transport, "coordinator", "u-maelle", territory="971-nord-gt", name="Maëlle")
    group = Chat(app, transport, "u-claire", chat_id="g-fougeres", is_group=True, name="Claire")
    await group.say("/lier_groupe")

    reference = (await _report_by_buttons(karim)).split("**")[1]
    for _ in range(3):  # the job runs every 20 s: a run more, or a restart, sends nothing more
        await run_jobs(app)

    mine = alerts(transport, "u-claire")
    assert len(mine) == 1 and reference in mine[0].text and "Signalé par : Karim" in mine[0].text
    assert [c.label for c in mine[0].choices] == ["Je m'en occupe", "Ouvrir"]
    assert len(alerts(transport, "u-dept")) == 1  # the département oversees the network
    assert alerts(transport, "u-maelle") == []  # another territory
    posted = alerts(transport, "g-fougeres")
    assert len(posted) == 1 and "Signalé par" not in posted[0].text  # the group may hold more than coordinators

    taken = await claire.pick("Je m'en occupe")
    assert "Claire** s'occupe de " + reference in taken[0].text  # a message, not only the platform's pop-up
    again = await dept.pick("Je m'en occupe")
    assert "déjà « pris en compte » (par Claire)" in again[0].text
    await app.outbox.run_once()
    assert any("pris en compte par la coordination" in r.text for r in transport.to("u-karim"))
    opened = await dept.pick("Ouvrir")
    assert "Signalé par : Karim" in opened[0].text and "alerte envoyée aux coordinateurs" in opened[0].text
    assert "pris en compte · Claire" in opened[0].text
    assert other is not None


async def test_non_urgent_reports_ping_nobody(app: App, transport: FakeTransport) -> None:
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    await karim.say("/signaler")
    await karim.pick("Démarche en ligne")
    await karim.pick("Romagné")
    await karim.say("Les rendez-vous ANTS sont introuvables pour les cartes d'identité.")
    await karim.pick("Seniors")
    await karim.pick("Normal")
    await karim.pick("Envoyer")
    await run_jobs(app)
    assert alerts(transport, "u-claire") == []


async def test_quiet_hours_hold_the_alert_until_morning_across_a_restart(
    app: App, transport: FakeTransport, settings: Settings, clock: FrozenClock
) -> None:
    await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    dept = await joined(app, transport, "coordinator", "u-dept", territory="35", name="Dominique")
    assert "coupées" not in await claire.text("/alertes")
    assert "plus d'alerte" in await claire.text("/alertes non")
    assert "21 h à 7 h" in await dept.text("/alertes silence 21h 7h")  # for the whole département

    clock.set(datetime(2026, 3, 10, 20, 30, tzinfo=UTC))  # 21:30 in Paris
    reference = await urgent_report(app, "u-karim")
    await run_jobs(app)
    assert alerts(transport, "u-dept") == []
    await app.close()  # the bot stops overnight…

    morning = FrozenClock(datetime(2026, 3, 11, 5, 59, tzinfo=UTC))  # 06:59 in Paris
    restarted = App(settings, clock=morning, transports=[transport])
    await restarted.prepare()
    try:
        await run_jobs(restarted)
        assert alerts(transport, "u-dept") == []
        morning.set(datetime(2026, 3, 11, 6, 0, tzinfo=UTC))  # 07:00: the end of the département's silence
        await run_jobs(restarted)
        await run_jobs(restarted)
        sent = alerts(transport, "u-dept")
        assert len(sent) == 1 and reference in sent[0].text
        assert alerts(transport, "u-claire") == []  # she turned hers off
    finally:
        await restarted.close()


async def test_alerts_switch_back_on_and_quiet_hours_are_read_in_the_territory_zone(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    await joined(app, transport, "referent", "u-joel", territory="971-nord-gt", name="Joël")
    maelle = await joined(app, transport, "coordinator", "u-maelle", territory="971-nord-gt", name="Maëlle")
    await maelle.say("/alertes")
    assert "plus d'alerte" in (await maelle.pick("Couper mes alertes"))[0].text
    await maelle.say("/alertes")
    assert "recevrez les alertes" in (await maelle.pick("Rétablir mes alertes"))[0].text
    assert "Je n'ai pas compris" in await maelle.text("/alertes silence tôt")
    clock.set(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))  # 19:30 in Guadeloupe, 00:30 in Paris
    async with app.sessions() as session, session.begin():
        joel = await find_member(session, "test", "u-joel")
        place = await by_code(session, "971-nord-gt")
        assert joel is not None and place is not None
        new = NewReport(joel.id, place.id, "connexion", "97117", "971", "Coupure au Moule.", "tous", "urgent", (),
                        "t-971")
        await create_report(session, new, clock.now())
    await run_jobs(app)
    assert len(alerts(transport, "u-maelle")) == 1


# --- through a real adapter: python-telegram-bot against the fake Bot API ---------------------------------------


async def test_over_telegram_the_alert_arrives_once_and_its_button_answers_with_a_message(
    tg: Harness,  # noqa: F811
) -> None:
    bot_api = tg.fake
    claire, karim = bot_api.user(5901, "Claire"), bot_api.user(5902, "Karim")
    await tg.join(claire, role="coordinator")
    await tg.join(karim)
    await tg.ask(claire, "/alertes silence aucune", "heures de silence")  # whatever the hour the suite runs at
    await tg.ask(karim, "/signaler", "Quel type de problème")
    await tg.press(karim, "Démarche en ligne", "Dans quelle commune")
    await tg.press(karim, "Romagné", "Que se passe-t-il")
    await tg.ask(karim, "Le portail ANTS refuse les dossiers depuis lundi.", "Quel public")
    await tg.press(karim, "Seniors", "Est-ce urgent")
    await tg.press(karim, "Urgent", "Votre signalement")
    before = bot_api.sent_count(claire.chat_id)
    await tg.press(karim, "Envoyer", "Merci")
    await tg.app.scheduler.tick()
    await tg.app.scheduler.tick()
    alert_message = await tg.answer(claire, before, "Signalement urgent")
    assert alert_message.labels == ["Je m'en occupe", "Ouvrir"] and "Signalé par : Karim" in alert_message.plain_text
    taken = await tg.press(claire, "Je m'en occupe", "s'occupe de")
    assert "Claire s'occupe de S-" in taken.plain_text
    await bot_api.wait_for(lambda: bot_api.unanswered_callbacks() == [])  # the press is answered too
    await tg.app.scheduler.tick()  # a later run queues nothing more (the demo's console members wait for theirs)
    await tg.app.outbox.run_once()
    assert sum("Signalement urgent" in m.plain_text for m in bot_api.sent_to(claire.chat_id)) == 1
