"""A report's history: the coordinator sees who reported it and every step; the author pages, reads, reopens."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import FrozenClock
from storage.members import find_member
from storage.reports import NewReport, create_report
from tests.chat import FakeTransport
from tests.conftest import joined


async def reports_by(app: App, user_id: str, count: int) -> list[str]:
    async with app.sessions() as session, session.begin():
        author = await find_member(session, "test", user_id)
        assert author is not None
        made = []
        for i in range(count):
            new = NewReport(author.id, author.territory_id, "connexion", "35243", "35", f"Coupure n°{i + 1}.", "tous",
                            "normal", (), f"h-{user_id}-{i}")
            made.append((await create_report(session, new, app.clock.now() + timedelta(minutes=i))).reference)
        return made


async def test_the_coordinator_sees_who_reported_and_the_history_and_the_author_reads_the_note(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    [reference] = await reports_by(app, "u-karim", 1)

    await claire.say("/signalements")
    opened = await claire.pick(f"Traiter {reference}")
    assert "Signalé par : Karim" in opened[0].text and "Historique" not in opened[0].text
    await claire.pick("Pris en compte")
    await claire.say("On appelle l'opérateur.")
    clock.advance(timedelta(days=1))
    await claire.say("/signalements")
    await claire.pick(f"Traiter {reference}")
    await claire.pick("Ajouter une note")
    assert "note est ajoutée" in (await claire.say("L'opérateur répare jeudi."))[0].text
    await claire.say("/signalements")
    detail = (await claire.pick(f"Traiter {reference}"))[0].text
    assert "pris en compte · Claire — _On appelle l'opérateur._" in detail
    assert "note · Claire — _L'opérateur répare jeudi._" in detail  # the earlier note is still there

    await karim.say("/mes_signalements")
    mine = (await karim.pick(f"Voir {reference}"))[0].text
    assert "L'opérateur répare jeudi." in mine and "On appelle l'opérateur." in mine
    assert "Signalé par" not in mine


async def test_my_reports_page_beyond_ten(app: App, transport: FakeTransport) -> None:
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    made = await reports_by(app, "u-karim", 12)
    first = (await karim.say("/mes_signalements"))[0]
    assert "(12) — 1–10" in first.text and made[11] in first.text and made[1] not in first.text
    assert first.choices[-1].label == "Suivants ▶"
    second = (await karim.pick("Suivants"))[0]
    assert "11–12" in second.text and made[0] in second.text and made[1] in second.text


async def test_the_author_reopens_a_resolved_report_within_30_days_only(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    first, second = await reports_by(app, "u-karim", 2)
    for reference in (first, second):
        await claire.say("/signalements")
        await claire.pick(f"Traiter {reference}")
        await claire.pick("Résolu")
        await claire.pick("Sans commentaire")

    clock.advance(timedelta(days=3))
    await karim.say("/mes_signalements")
    await karim.pick(f"Voir {first}")
    assert "de nouveau ouvert" in (await karim.pick("Toujours d'actualité"))[0].text
    await app.outbox.run_once()
    assert any("toujours d'actualité" in r.text and first in r.text for r in transport.to("u-claire"))
    listing = (await claire.say("/signalements"))[0].text
    assert first in listing and second not in listing
    detail = (await claire.pick(f"Traiter {first}"))[0].text
    assert "rouvert par son auteur" in detail

    clock.advance(timedelta(days=30))
    await karim.say("/mes_signalements")
    opened = await karim.pick(f"Voir {second}")
    assert "Toujours d'actualité" not in [c.label for c in opened[0].choices]
