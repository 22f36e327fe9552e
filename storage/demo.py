"""The demo network seeded on an empty database, so every command can be tried at once (make run)."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.closures import seed_demo_closure
from storage.meetings import Meeting, NewMeeting, create_meeting, monthly_rule, previous_in_rule, to_utc
from storage.models import Identity, Member, Territory
from storage.reports import NewReport, add_event, create_report, set_status
from storage.territories import add_territory

TERRITORIES = (
    # code, name, parent, time zone, communes (INSEE)
    ("35", "Ille-et-Vilaine", None, "Europe/Paris", ()),
    ("35-fougeres", "Réseau du Pays de Fougères", "35", None, ("35115", "35243", "35360")),
    ("35-rennes", "Réseau de Rennes Métropole", "35", None, ("35238",)),
    ("971", "Guadeloupe", None, "America/Guadeloupe", ()),
    ("971-nord-gt", "Réseau Nord Grande-Terre", "971", None, ("97117", "97101")),
)

# display name, role, territory, console user id
MEMBERS = (
    ("Alex (administrateur démo)", "admin", "35", "admin"),
    ("Claire, coordinatrice Pays de Fougères", "coordinator", "35-fougeres", "coordinator"),
    ("Karim, conseiller numérique à Romagné", "referent", "35-fougeres", "referent"),
    ("Maëlle, coordinatrice Nord Grande-Terre", "coordinator", "971-nord-gt", "coordinator-971"),
    ("Joël, médiathèque du Moule", "referent", "971-nord-gt", "referent-971"),
)


async def is_empty(session: AsyncSession) -> bool:
    return not (await session.execute(select(func.count()).select_from(Territory))).scalar_one()


async def seed_demo(session: AsyncSession, now: datetime) -> None:
    """Demo territories and members; each member reachable from `relais console --as <role>`."""
    codes: dict[str, Territory] = {}
    for code, name, parent, zone, communes in TERRITORIES:
        codes[code] = await add_territory(session, code=code, name=name, parent=parent, timezone=zone,
                                          communes=communes, now=now)
    for name, role, territory, console_id in MEMBERS:
        member = Member(display_name=name, role=role, territory_id=codes[territory].id, created_at=now)
        member.identities = [Identity(platform="console", user_id=console_id, chat_id=console_id,
                                      created_at=now)]
        session.add(member)
    await session.flush()


DEMO_REPORTS = (
    # theme, commune, description, public, urgency
    ("demarche", "35243", "Le site de la CAF refuse la connexion FranceConnect depuis la mise à jour.", "seniors",
     "urgent"),
    ("connexion", "35243", "Zone blanche au lieu-dit La Lande : aucune connexion mobile pour les démarches.", "tous",
     "normal"),
    ("equipement", "35115", "Plusieurs jeunes suivis n'ont qu'un téléphone cassé pour chercher un emploi.", "jeunes",
     "normal"),
    ("lieu", "35115", "Plus de créneau d'accompagnement le samedi à la médiathèque.", "familles", "low"),
    ("demarche", "35360", "Rendez-vous ANTS introuvables pour les cartes d'identité.", "tous", "normal"),
    ("securite", "35243", "Vague de SMS frauduleux « colis en attente » chez les seniors.", "seniors", "urgent"),
    ("formation", "35360", "Demandes d'ateliers smartphone en hausse, liste d'attente de 6 semaines.", "seniors",
     "low"),
    ("accessibilite", "35115", "Personnes allophones bloquées sur les formulaires France Travail.", "allophones",
     "normal"),
    ("demarche", "97117", "Le simulateur de la CAF ne fonctionne pas depuis le réseau mobile.", "familles", "urgent"),
    ("connexion", "97101", "Coupures internet répétées à la maison de quartier.", "tous", "normal"),
)


WAITING = ("Plus aucun rendez-vous France Services avant 3 semaines : une dame doit renouveler ses droits "
           "avant vendredi.")


async def seed_demo_reports(session: AsyncSession, now: datetime) -> None:
    """A few weeks of plausible reports, so /signalements and /synthese show something at once."""
    rng = random.Random(35)
    authors = {row.territory.code: row for row in (await session.execute(
        select(Member).where(Member.role == "referent"))).unique().scalars()}
    for i, (theme, insee, text, public, urgency) in enumerate(DEMO_REPORTS * 2):
        author = authors["971-nord-gt" if insee.startswith("97") else "35-fougeres"]
        new = NewReport(author.id, author.territory_id, theme, insee, "971" if insee.startswith("97") else "35",
                        text, public, urgency, (), f"demo-{i}")
        report = await create_report(session, new, now - timedelta(days=rng.randrange(1, 50), hours=rng.randrange(8)))
        report.alerted_at = report.created_at  # the past ones were alerted in their time
        if i % 3 == 0:
            await set_status(session, report, "acknowledged", now=now, by=None)
            await add_event(session, report, "acknowledged", now=now, by=None)
    # One urgent report waiting: its coordinators are alerted at the bot's first minute (or in the morning).
    author = authors["35-fougeres"]
    fresh = NewReport(author.id, author.territory_id, "demarche", "35243", "35", WAITING, "seniors", "urgent", (),
                      "demo-waiting")
    await create_report(session, fresh, now - timedelta(minutes=20))


DEMO_MEETINGS = (
    # territory code, title, place
    ("35-fougeres", "Réunion trimestrielle du réseau", "Médiathèque La Clairière, Fougères"),
    ("35-rennes", "Réunion trimestrielle du réseau", "Visio : https://visio.example.org/rennes-metropole"),
    ("971-nord-gt", "Réunion trimestrielle du réseau", "Médiathèque du Moule"),
)


async def seed_demo_meetings(session: AsyncSession, now: datetime) -> list[Meeting]:
    """One quarterly meeting per demo local network, 5–7 days ahead on a weekday at 14:00 local: J-1 will come.
    The Pays de Fougères series began a quarter earlier: that date is closed, with its actions (storage.closures)."""
    created = []
    for code, title, place in DEMO_MEETINGS:
        territory = (await session.execute(select(Territory).where(Territory.code == code))).scalar_one_or_none()
        if territory is None:
            continue
        tz = ZoneInfo(territory.timezone)
        day = now.astimezone(tz).date() + timedelta(days=5)
        day += timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)  # a weekday, like real ones
        local = datetime.combine(day, time(14, 0))
        rule = monthly_rule(local, 3)
        first = previous_in_rule(rule, local) if code == "35-fougeres" else local
        new = NewMeeting(territory.id, title, place, to_utc(first, tz), rule, None, f"demo:{code}")
        meeting = await create_meeting(session, new, now)
        if first != local:
            await seed_demo_closure(session, meeting, now)
        created.append(meeting)
    return created
