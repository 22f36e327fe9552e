"""Territory tree queries: add, find by code, the subtree a coordinator sees."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Territory, TerritoryCommune


class TerritoryError(ValueError):
    """A territory cannot be created or found as asked; the message is for the operator."""


def check_timezone(name: str) -> str:
    if name not in available_timezones():
        raise TerritoryError(f"fuseau horaire inconnu : {name} (par exemple Europe/Paris, America/Guadeloupe)")
    ZoneInfo(name)
    return name


async def by_code(session: AsyncSession, code: str) -> Territory | None:
    return (await session.execute(select(Territory).where(Territory.code == code))).scalar_one_or_none()


def known_insee(insee: str) -> bool:
    from storage.communes import communes

    return communes().get(insee) is not None


async def add_territory(session: AsyncSession, *, code: str, name: str, now: datetime, parent: str | None = None,
                        timezone: str | None = None, communes: Iterable[str] = ()) -> Territory:
    """A new node of the tree; a child inherits its parent's time zone unless one is given."""
    if await by_code(session, code):
        raise TerritoryError(f"le territoire {code} existe déjà (voir : relais territory list)")
    parent_row = await by_code(session, parent) if parent else None
    if parent and parent_row is None:
        raise TerritoryError(f"territoire parent {parent} inconnu (voir : relais territory list)")
    zone = check_timezone(timezone or (parent_row.timezone if parent_row else "Europe/Paris"))
    communes = list(communes)
    unknown = [insee for insee in communes if not known_insee(insee)]
    if unknown:
        raise TerritoryError(f"code(s) INSEE inconnu(s) : {', '.join(unknown[:5])} (5 chiffres, ex. 35115 ; "
                             "2A/2B pour la Corse)")
    territory = Territory(code=code, name=name, parent_id=parent_row.id if parent_row else None,
                          timezone=zone, created_at=now)
    territory.communes = [TerritoryCommune(insee=insee) for insee in sorted(set(communes))]
    session.add(territory)
    await session.flush()
    return territory


T = TypeVar("T")


class TerritoryTree:
    """The région › département › réseau tree, walked here and nowhere else."""

    def __init__(self, parents: dict[int, int | None]) -> None:
        self.parents = parents
        self.children: dict[int | None, list[int]] = {}
        for tid, parent in parents.items():
            self.children.setdefault(parent, []).append(tid)

    @classmethod
    async def load(cls, session: AsyncSession) -> TerritoryTree:
        return cls(dict((await session.execute(select(Territory.id, Territory.parent_id))).tuples().all()))

    def subtree(self, territory_id: int) -> list[int]:
        """The territory and all its descendants (a coordinator sees all of them)."""
        found, todo = [], [territory_id]
        while todo:
            current = todo.pop()
            found.append(current)
            todo.extend(self.children.get(current, []))
        return sorted(found)

    def ancestors(self, territory_id: int) -> list[int]:
        """The territory and the ones above it, nearest first."""
        found: list[int] = []
        current: int | None = territory_id
        while current is not None and current not in found:
            found.append(current)
            current = self.parents.get(current)
        return found

    def inherited(self, own: Mapping[int, T], default: T) -> dict[int, T]:
        """Every territory's setting: its own, else its nearest ancestor's, else `default` (reminder offsets,
        quiet hours… are set high in the tree and inherited below)."""
        return {tid: next((own[a] for a in self.ancestors(tid) if a in own), default) for tid in self.parents}


async def subtree_ids(session: AsyncSession, territory_id: int) -> list[int]:
    """The territory and all its descendants (a coordinator sees all of them)."""
    return (await TerritoryTree.load(session)).subtree(territory_id)


async def all_territories(session: AsyncSession, *, with_communes: bool = False) -> list[Territory]:
    query = select(Territory).order_by(Territory.code)
    if with_communes:
        query = query.options(selectinload(Territory.communes))
    return list((await session.execute(query)).scalars())


async def communes_of(session: AsyncSession, territory_id: int) -> list[str]:
    """INSEE codes of the territory's communes, or of its whole subtree when it lists none itself."""
    ids = [territory_id]
    for scope in (ids, None):
        if scope is None:
            ids = await subtree_ids(session, territory_id)
        query = select(TerritoryCommune.insee).where(TerritoryCommune.territory_id.in_(ids))
        found = sorted(set((await session.execute(query)).scalars()))
        if found:
            return found
    return []
