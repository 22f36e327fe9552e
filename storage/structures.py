"""Partner structures (Lieux de médiation numérique): the table, search around a commune or a point, local edits."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import opening_hours
from sqlalchemy import (
    Float,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, str200, utc
from storage.communes import distance_km
from storage.normalize import fold

LOCAL_SOURCE = "local"
KM_PER_DEGREE = 111.2
MIN_KM = 1.0
FIRST_KM = 20.0  # the first bounding box when nothing is known of the density around
MAX_KM = 250.0  # beyond this, "nothing nearby"
CELL_DEG = 0.2  # density grid: about 22 km
FINE_DEG = 0.01  # fine density grid: about 1.1 km (north-south)
FINE_RINGS = 12  # rings of fine cells tried before the coarse grid sizes the box (about 14 km)
DENSITY_SECONDS = 600.0  # how long a density grid is trusted (it only sizes the first box, never decides results)
SLACK = 8  # extra rows fetched so that the exact (haversine) order can differ from the SQL estimate
OVERSEAS_ZONES = {"971": "America/Guadeloupe", "972": "America/Martinique", "973": "America/Cayenne",
                  "974": "Indian/Reunion", "976": "Indian/Mayotte"}


class Structure(Base):
    """A place that helps people; `services` holds theme ids as « |demarches|outils| » (one LIKE to filter)."""

    __tablename__ = "structure"
    __table_args__ = (UniqueConstraint("source", "source_id"), Index("ix_structure_position", "lat", "lon"))

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(80))
    source_id: Mapped[str200]
    pivot: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str200]
    kinds: Mapped[str] = mapped_column(String(200), default="")  # typologie codes, « |CCAS|RFS| »
    insee: Mapped[str] = mapped_column(String(5), index=True)
    departement: Mapped[str] = mapped_column(String(3))
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    commune: Mapped[str200]
    address: Mapped[str] = mapped_column(String(300), default="")
    address_extra: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    precise: Mapped[bool] = mapped_column(default=True)  # False: the town hall's position stands in
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str200] = mapped_column(default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    booking: Mapped[str] = mapped_column(String(500), default="")
    hours: Mapped[str] = mapped_column(Text, default="")  # OpenStreetMap opening_hours syntax
    summary: Mapped[str] = mapped_column(Text, default="")
    services: Mapped[str] = mapped_column(String(200), default="")
    updated_on: Mapped[date | None]
    fingerprint: Mapped[str] = mapped_column(String(64), default="")  # of the imported values
    local: Mapped[bool] = mapped_column(default=False)  # maintained in the bot: imports leave it alone
    # What a mediator filters on, as « |acc:surdite|fee:gratuit|lang:en| » (see storage/structure_tags.py).
    tags: Mapped[str] = mapped_column(String(300), default="", server_default="")
    thematiques: Mapped[str] = mapped_column(Text, default="", server_default="")  # data·inclusion codes, packed
    bring: Mapped[str] = mapped_column(Text, default="", server_default="")  # what to bring, when the source says
    missing: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # imports of its source it missed
    hidden: Mapped[str] = mapped_column(String(20), default="", server_default="")  # "" shown, "missing", "coordinator"
    created_at: Mapped[utc]
    updated_at: Mapped[utc]

    @property
    def service_ids(self) -> tuple[str, ...]:
        return unpack(self.services)

    @property
    def kind_codes(self) -> tuple[str, ...]:
        return unpack(self.kinds)


def pack(values: Iterable[str]) -> str:
    """« |a|b| » (order kept, duplicates dropped), or "" for none."""
    unique = list(dict.fromkeys(v for v in values if v))
    return f"|{'|'.join(unique)}|" if unique else ""


def unpack(packed: str) -> tuple[str, ...]:
    return tuple(v for v in packed.split("|") if v)


# -- opening hours -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenFilter:
    """Open at an instant (« ouvert maintenant ») or at some time of a local day (« samedi »)."""

    tz: ZoneInfo  # the member's zone (their « samedi »); each place's hours are read in its own zone
    at: datetime | None = None
    day: date | None = None


@lru_cache(maxsize=8192)
def parse_hours(text: str) -> opening_hours.OpeningHours | None:
    """The parsed expression, or None when empty or not in OpenStreetMap syntax."""
    if not text.strip():
        return None
    try:
        return opening_hours.OpeningHours(text, country="FR" if "PH" in text else None)
    except (opening_hours.ParserError, SyntaxError, ValueError):  # type: ignore[attr-defined]
        return None


def zone_of(departement: str) -> ZoneInfo:
    """The zone a place's opening hours are written in: its own, never the reader's (a Guadeloupe referent
    looking at a Fougères place reads Paris hours)."""
    return ZoneInfo(OVERSEAS_ZONES.get(departement, "Europe/Paris"))


def open_state(hours: str, moment: datetime, zone: ZoneInfo) -> bool | None:
    """True/False when the hours are known and say so at this instant, None when unknown."""
    parsed = parse_hours(hours)
    if parsed is None:
        return None
    local = moment.astimezone(zone).replace(tzinfo=None)
    return True if parsed.is_open(local) else (None if parsed.is_unknown(local) else False)


def open_on(hours: str, day: date) -> bool | None:
    """Whether the place opens at some time on this (local) day; None when unknown."""
    parsed = parse_hours(hours)
    if parsed is None:
        return None
    start = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - local wall time, as the syntax means
    intervals = parsed.intervals(start, start + timedelta(days=1))
    return any(state == opening_hours.State.OPEN for _, _, state, _ in intervals)


def passes(structure: Structure, wanted: OpenFilter | None) -> bool:
    """Only places whose known hours say they are open then (unknown hours do not pass a filter)."""
    if wanted is None:
        return True
    if wanted.at is not None:
        return open_state(structure.hours, wanted.at, zone_of(structure.departement)) is True
    return wanted.day is not None and open_on(structure.hours, wanted.day) is True


# -- search ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Search:
    """What to look for: a theme, around a commune (its structures first) or a point, maybe open then."""

    lat: float | None
    lon: float | None
    insee: str | None = None
    theme: str | None = None
    when: OpenFilter | None = None
    tags: tuple[str, ...] = ()  # every one required (« acc:surdite », « fee:gratuit »…)


@dataclass(frozen=True, slots=True)
class Hit:
    structure: Structure
    distance_km: float | None
    in_commune: bool


@dataclass(frozen=True, slots=True)
class Page:
    hits: tuple[Hit, ...]
    has_more: bool
    offset: int


async def find_partners(session: AsyncSession, search: Search, *, offset: int = 0, limit: int = 5) -> Page:
    """Structures of the commune first, then by distance; the box grows until the page (and one more) fits."""
    needed = offset + limit + 1
    grid = await density(session) if search.lat is not None else None
    radius = grid.radius(search, needed) if grid is not None else MAX_KM
    while True:
        hits = await _within(session, search, radius, needed, grid)
        if len(hits) >= needed or radius >= MAX_KM or search.lat is None:
            return Page(tuple(hits[offset:offset + limit]), len(hits) > offset + limit, offset)
        # Jump to the radius the density seen so far suggests, rather than one small step at a time.
        radius = min(MAX_KM, radius * max(2.0, 1.5 * math.sqrt(needed / max(len(hits), 0.5))))


@dataclass(frozen=True, slots=True)
class Density:
    """Structures per grid cell (coarse, about 22 km, and fine, about 1.1 km), per commune, and the share of
    each service: sizes the first box so that one query fills a page, in Paris (a few hundred metres) as in the
    countryside (tens of kilometres). Only an estimate: results never depend on it, only the number of queries
    and the rows each reads."""

    cells: dict[tuple[int, int], int]
    shares: dict[str, float]
    loaded_at: float
    fine: dict[tuple[int, int], int] = field(default_factory=dict)
    communes: dict[str, int] = field(default_factory=dict)

    def expected(self, search: Search) -> float:
        """The share of structures that pass the search's theme, hours and tags filters."""
        share = self.shares.get(search.theme, 0.0) if search.theme else 1.0
        return share / (3 if search.when else 1) / 4 ** len(search.tags)

    def radius(self, search: Search, needed: int) -> float:
        assert search.lat is not None and search.lon is not None
        per_structure = self.expected(search)
        if per_structure <= 0:
            return FIRST_KM
        fine = self._fine_radius(search.lat, search.lon, 2 * needed / per_structure)
        if fine is not None:
            return fine
        row, col = _cell(search.lat, search.lon)
        around = sum(self.cells.get((row + i, col + j), 0) for i in (-1, 0, 1) for j in (-1, 0, 1))
        area = 9 * (CELL_DEG * KM_PER_DEGREE) ** 2 * max(0.05, math.cos(math.radians(search.lat)))
        per_km2 = around / area * per_structure
        if per_km2 <= 0:
            return FIRST_KM
        return min(MAX_KM, max(MIN_KM, math.sqrt(2 * needed / (math.pi * per_km2))))

    def _fine_radius(self, lat: float, lon: float, wanted: float) -> float | None:
        """Rings of fine cells around the point until they hold `wanted` structures: the radius that covers
        them (None past FINE_RINGS rings: the coarse grid sizes sparse areas)."""
        row, col = _fine_cell(lat, lon)
        found = 0
        for ring in range(FINE_RINGS + 1):
            found += sum(self.fine.get(cell, 0) for cell in _ring(row, col, ring))
            if found >= wanted:
                return max(MIN_KM, (ring + 1) * FINE_DEG * KM_PER_DEGREE)
        return None

    def commune_fills(self, search: Search, needed: int) -> bool:
        """Whether the commune is likely to fill the page on its own (then its far rows need not be read)."""
        return search.insee is not None and self.communes.get(search.insee, 0) * self.expected(search) >= 4 * needed


_densities: dict[str, Density] = {}  # per database, rebuilt after DENSITY_SECONDS


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)


def _ring(row: int, col: int, ring: int) -> Iterator[tuple[int, int]]:
    """The cells at Chebyshev distance `ring` from (row, col)."""
    if ring == 0:
        yield row, col
        return
    for j in range(-ring, ring + 1):
        yield row - ring, col + j
        yield row + ring, col + j
    for i in range(-ring + 1, ring):
        yield row + i, col - ring
        yield row + i, col + ring


def _fine_cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / FINE_DEG), math.floor(lon / FINE_DEG)


async def density(session: AsyncSession) -> Density:
    """The density grid of this database, read at most every DENSITY_SECONDS (a stale one only costs a query)."""
    key = str(session.get_bind().engine.url)
    known = _densities.get(key)
    if known is not None and time.monotonic() - known.loaded_at < DENSITY_SECONDS:
        return known
    cells: Counter[tuple[int, int]] = Counter()
    fine: Counter[tuple[int, int]] = Counter()
    services: Counter[str] = Counter()
    in_commune: Counter[str] = Counter()
    query = select(Structure.lat, Structure.lon, Structure.services, Structure.insee).execution_options(
        yield_per=5000)  # streamed: 100,000 rows never sit in memory at once
    async for rows in (await session.stream(query)).partitions():
        for lat, lon, packed, insee in rows:
            if lat is not None and lon is not None:
                cells[_cell(lat, lon)] += 1
                fine[_fine_cell(lat, lon)] += 1
            services.update(unpack(packed))
            in_commune[insee] += 1
    total = max(1, in_commune.total())
    known = _densities[key] = Density(dict(cells), {k: n / total for k, n in services.items()}, time.monotonic(),
                                      dict(fine), dict(in_commune))
    return known


async def _within(session: AsyncSession, search: Search, radius: float, needed: int,
                  grid: Density | None = None) -> list[Hit]:
    """Ranked hits within the radius; fetches more rows while the opening-hours filter leaves too few.

    In a big commune (Paris, Lyon…) the box alone is read first: when its own structures within the radius fill
    the page, they are exactly the first ones the commune-or-box query would give (any commune structure farther
    away ranks after them), without reading and sorting the thousands of others."""
    if grid is not None and search.lat is not None and grid.commune_fills(search, needed):
        hits = await _fetched(session, search, radius, needed, commune=False)
        near = [hit for hit in hits if hit.in_commune and hit.distance_km is not None and hit.distance_km <= radius]
        if len(near) >= needed:
            return hits
    return await _fetched(session, search, radius, needed, commune=search.insee is not None)


async def _fetched(session: AsyncSession, search: Search, radius: float, needed: int, *,
                   commune: bool) -> list[Hit]:
    fetch = (needed + SLACK) * (4 if search.when else 1)
    while True:
        statement = _statement(commune, search.lat is not None, search.theme is not None, len(search.tags))
        rows = list((await session.execute(statement, _parameters(search, radius, fetch))).scalars())
        hits = _rank(search, [row for row in rows if passes(row, search.when)], radius)
        if len(hits) >= needed or len(rows) < fetch:
            return hits
        fetch *= 4


@lru_cache(maxsize=64)
def _statement(commune: bool, box: bool, theme: bool, tags: int = 0) -> Select[Any]:
    """The commune's rows and the box's, nearest first by a flat-earth estimate (same SQL on both databases);
    built once per shape, values bound at each call. Without `commune`, the box alone (its rows of the commune
    still first)."""
    lat, lon = bindparam("lat", type_=Float), bindparam("lon", type_=Float)
    in_commune = Structure.insee == bindparam("insee")
    where: Any = in_commune
    order: list[Any] = [case((in_commune, 0), else_=1)] if commune or box else []
    if box:
        inside = and_(Structure.lat.between(bindparam("lat_min", type_=Float), bindparam("lat_max", type_=Float)),
                      Structure.lon.between(bindparam("lon_min", type_=Float), bindparam("lon_max", type_=Float)))
        where = or_(where, inside) if commune else inside
        flat = (Structure.lat - lat) * (Structure.lat - lat) + bindparam("scale", type_=Float) * (
            Structure.lon - lon) * (Structure.lon - lon)
        order.append(func.coalesce(flat, 1e9))
    if theme:
        where = and_(where, Structure.services.like(bindparam("pattern"), escape="\\"))
    for number in range(tags):
        where = and_(where, Structure.tags.like(bindparam(f"tag{number}"), escape="\\"))
    where = and_(where, Structure.hidden == "")
    return select(Structure).where(where).order_by(*order, Structure.id).limit(bindparam("fetch", type_=Integer))


def _parameters(search: Search, radius: float, fetch: int) -> dict[str, Any]:
    values: dict[str, Any] = {"insee": search.insee, "fetch": fetch}
    if search.theme is not None:
        values["pattern"] = f"%|{_escaped(search.theme)}|%"
    values.update({f"tag{number}": f"%|{_escaped(tag)}|%" for number, tag in enumerate(search.tags)})
    if search.lat is not None and search.lon is not None:
        d_lat = radius / KM_PER_DEGREE
        d_lon = radius / (KM_PER_DEGREE * max(0.05, math.cos(math.radians(search.lat))))
        values.update(lat=search.lat, lon=search.lon, scale=math.cos(math.radians(search.lat)) ** 2,
                      lat_min=search.lat - d_lat, lat_max=search.lat + d_lat,
                      lon_min=search.lon - d_lon, lon_max=search.lon + d_lon)
    return values


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _rank(search: Search, rows: Sequence[Structure], radius: float) -> list[Hit]:
    """Exact distances; the commune's own structures first, then the others within the radius."""
    hits = []
    for row in rows:
        distance = _distance(search, row)
        inside = row.insee == search.insee
        if inside or (distance is not None and distance <= radius):
            hits.append(Hit(row, distance, inside))
    return sorted(hits, key=lambda h: (not h.in_commune, h.distance_km if h.distance_km is not None else 1e9,
                                       h.structure.id))


def _distance(search: Search, row: Structure) -> float | None:
    if search.lat is None or search.lon is None or row.lat is None or row.lon is None:
        return None
    return distance_km(search.lat, search.lon, row.lat, row.lon)


async def in_commune_floor(session: AsyncSession, insee: str, theme: str, limit: int = 5) -> list[Structure]:
    """The plain indexed lookup by INSEE code and theme: the benchmark's floor."""
    query = (select(Structure).where(Structure.insee == insee,
                                     Structure.services.contains(f"|{theme}|", autoescape=True))
             .order_by(Structure.id).limit(limit + 1))
    return list((await session.execute(query)).scalars())


# -- local edits -------------------------------------------------------------------------------------------


async def by_id(session: AsyncSession, structure_id: int) -> Structure | None:
    return await session.get(Structure, structure_id)


async def named_like(session: AsyncSession, text: str, insee: Sequence[str], limit: int = 5) -> list[Structure]:
    """Structures of these communes whose folded name contains every typed word (to correct one)."""
    words = fold(text).split()
    if not words or not insee:
        return []
    rows = (await session.execute(select(Structure).where(Structure.insee.in_(list(insee)))
                                  .order_by(Structure.name, Structure.id))).scalars()
    return [row for row in rows if all(w in fold(row.name).split() for w in words)][:limit]


async def save_local(session: AsyncSession, values: dict[str, Any], now: datetime,
                     existing: Structure | None = None) -> Structure:
    """Add a locally maintained structure, or correct one (it then stays as corrected across imports)."""
    row = existing or Structure(source=LOCAL_SOURCE, source_id="", created_at=now)
    for key, value in values.items():
        setattr(row, key, value)
    row.local, row.updated_at = True, now
    session.add(row)
    await session.flush()
    if not row.source_id:
        row.source_id = f"L{row.id:06d}"
    return row

