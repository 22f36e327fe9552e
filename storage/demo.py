"""The demo network seeded on an empty database, so every command can be tried at once (make run)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Identity, Member, Territory
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
