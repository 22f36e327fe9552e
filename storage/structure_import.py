"""Structure imports: Lieux de médiation numérique (CSV v1 and v0.1, JSON) and data·inclusion JSON, upserted."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.communes import communes
from storage.structure_di import read_data_inclusion
from storage.structure_rows import (
    Parsed,
    Record,
    Rejected,
    add,
    cell_text,
    clip,
    coordinate,
    first_postal,
    iso_date,
    locate,
    map_services,
    phone_number,
    place_values,
    split_values,
    squash,
)
from storage.structure_tags import lmn_tags
from storage.structures import Structure, pack, parse_hours, unpack
from storage.themes import di_codes

BATCH = 1000
MISSING_HIDE = 2  # a place absent from this many imports of its source in a row is hidden from results
PARTIAL_SHARE = 0.5  # a file with fewer than half the places already known of its source is taken as partial…
PARTIAL_MIN = 10  # …once the source has that many places
MAX_JSON_DEPTH = 40  # LMN and data·inclusion files are 3 levels deep; deeper is not such a file
DEMO_FILE = "demo_structures.csv"
DEMO_SOURCE = "demo"

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class ImportReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unknown_services: Counter[str] = field(default_factory=Counter)
    bad_hours: int = 0
    unit: str = "line"
    seconds: float = 0.0
    flags: Counter[str] = field(default_factory=Counter)  # far (placed at its commune), bad_phone (kept as typed)
    missing: int = 0  # places of this source absent from the file: flagged
    hidden: int = 0  # …of which now hidden from results (absent from MISSING_HIDE imports in a row)
    partial: bool = False  # the file looked partial: nothing was flagged missing
    columns: tuple[str, ...] = ()  # a CSV file's header, to say which expected columns it lacks

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged + self.kept_local + len(self.rejected)

    @property
    def all_rejected(self) -> bool:
        """Every row of the file was refused: nothing imported, a failure for the command line."""
        return bool(self.rejected) and self.total == len(self.rejected)


# -- Lieux de médiation numérique --------------------------------------------------------------------------


def lmn_record(row: dict[str, Any], line: int, parsed: Parsed) -> Record | Rejected:
    """One LMN row (CSV or JSON) as column values, or why it is left out."""
    source_id, name = cell_text(row, "id"), cell_text(row, "nom")
    if not source_id:
        return Rejected(line, "missing_id")
    if not name:
        return Rejected(line, "missing_name", source_id)
    postal, commune_name, insee = cell_text(row, "code_postal"), cell_text(row, "commune"), cell_text(row, "code_insee")
    if not (postal or commune_name or insee):
        return Rejected(line, "missing_commune", source_id)
    commune = locate(insee, postal, commune_name)
    if commune is None:
        return Rejected(line, "unknown_commune", f"{postal} {commune_name}".strip())
    try:
        lat = coordinate(row.get("latitude"), 90)
    except ValueError:
        return Rejected(line, "bad_latitude", str(row.get("latitude")))
    try:
        lon = coordinate(row.get("longitude"), 180)
    except ValueError:
        return Rejected(line, "bad_longitude", str(row.get("longitude")))
    hours = cell_text(row, "horaires")
    parsed.bad_hours += bool(hours) and parse_hours(hours) is None
    place, far = place_values(commune, lat, lon)
    phone, phone_ok = phone_number(cell_text(row, "telephone"), commune.departement)
    services = map_services(row.get("services"), parsed.unknown_services)
    values = {"pivot": cell_text(row, "pivot"), "name": name, "postal_code": postal or first_postal(commune),
              "address": cell_text(row, "adresse"),
              "address_extra": cell_text(row, "complement_adresse"), "phone": phone,
              "email": (split_values(row.get("courriels") or row.get("courriel")) or [""])[0],
              "website": (split_values(row.get("site_web")) or [""])[0], "booking": cell_text(row, "prise_rdv"),
              "hours": hours, "summary": cell_text(row, "presentation_resume"),
              "kinds": pack(v.upper() for v in split_values(row.get("typologie"))), "services": services,
              "tags": pack(lmn_tags(row, split_values)), "thematiques": pack(di_codes(unpack(services))),
              "updated_on": iso_date(cell_text(row, "date_maj")), **place}
    flags = ("far",) * far + ("bad_phone",) * (not phone_ok)
    return Record(line, source_id, clip(values), flags)


def _header(text: str) -> str:
    """The first line, with « ; » made « , » when it is the delimiter."""
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return header.replace(";", ",") if header.count(";") > header.count(",") else header


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line where the record starts, row) — None for a row whose column count is wrong."""
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [squash(name).lower() for name in next(reader, [])]
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield start, dict(zip(names, cells, strict=True)) if len(cells) == len(names) else None
        start = reader.line_num + 1


def read_lmn_csv(text: str) -> Parsed:
    parsed, seen = Parsed(), dict[str, int]()
    parsed.columns = tuple(squash(name).lower() for name in next(csv.reader(io.StringIO(_header(text))), []))
    for line, row in _csv_rows(text.lstrip("\ufeff")):
        add(parsed, lmn_record(row, line, parsed) if row is not None else Rejected(line, "bad_row"), seen)
    return parsed


def read_lmn_json(items: Sequence[Any]) -> Parsed:
    parsed, seen = Parsed(unit="item"), dict[str, int]()
    for number, item in enumerate(items, start=1):
        add(parsed, lmn_record(item, number, parsed) if isinstance(item, dict) else Rejected(number, "bad_row"),
            seen)
    return parsed


def read_json(data: Any) -> tuple[Parsed, str]:
    """(parsed, default source name) for a LMN list or a data·inclusion export (structures and/or services)."""
    if isinstance(data, dict) and isinstance(data.get("data"), list) and not {"structures", "services"} & set(data):
        data = data["data"]
    items = data if isinstance(data, list) else []
    first = next((item for item in items if isinstance(item, dict)), {})
    if isinstance(data, list) and ("pivot" in first or isinstance(first.get("services"), str | list)):
        return read_lmn_json(items), "lmn"
    return read_data_inclusion(data), "data-inclusion"


class TooDeep(ValueError):
    """A JSON file nested deeper than any structure file: refused before the parser recurses into it."""

    def __init__(self, depth: int) -> None:
        super().__init__(f"JSON nested {depth}+ levels deep")
        self.depth = depth


def json_depth(data: Any, limit: int) -> int:
    """How deep lists and objects nest, walked without recursion (stops once past `limit`)."""
    deepest, stack = 0, [(data, 1)]
    while stack and deepest <= limit:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            stack += [(item, depth + 1) for item in (value.values() if isinstance(value, dict) else value)]
    return deepest


def parse_json(raw: str) -> Any:
    """The JSON value; TooDeep rather than a RecursionError (in the parser, or later in str() of a cell)."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise TooDeep(MAX_JSON_DEPTH) from None
    if (depth := json_depth(data, MAX_JSON_DEPTH)) > MAX_JSON_DEPTH:
        raise TooDeep(depth)
    return data


def read_path(path: Path) -> tuple[Parsed, str]:
    """Read a file by its kind: JSON (LMN or data·inclusion) or LMN CSV; (parsed, default source name).
    ValueError (TooDeep, JSONDecodeError) when it cannot be read at all."""
    raw = path.read_bytes().decode("utf-8-sig")
    if path.suffix.lower() == ".json" or raw.lstrip()[:1] in "[{":
        return read_json(parse_json(raw))
    return read_lmn_csv(raw), "lmn"


# -- upsert ------------------------------------------------------------------------------------------------


def fingerprint(values: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


async def _existing(session: AsyncSession, source: str) -> dict[str, tuple[int, str, bool]]:
    query = select(Structure.source_id, Structure.id, Structure.fingerprint, Structure.local).where(
        Structure.source == source)
    return {sid: (pk, fp, local) for sid, pk, fp, local in (await session.execute(query)).all()}


async def upsert(session: AsyncSession, source: str, parsed: Parsed, now: datetime,
                 progress: Progress | None = None) -> ImportReport:
    """Insert new ids, update changed ones, leave unchanged and locally maintained ones alone."""
    report = ImportReport(source, rejected=list(parsed.rejected), unknown_services=parsed.unknown_services,
                          bad_hours=parsed.bad_hours, unit=parsed.unit, flags=parsed.flags,
                          columns=parsed.columns)
    existing = await _existing(session, source)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for done, record in enumerate(parsed.records, start=1):
        _sort(report, record, source, existing.get(record.source_id), now, inserts, updates)
        if len(inserts) + len(updates) >= BATCH:
            await _flush(session, inserts, updates)
        if progress and (done % 500 == 0 or done == len(parsed.records)):
            progress(done, len(parsed.records))
    await _flush(session, inserts, updates)
    await _services_only(session, source, parsed.services_only, report, now)
    if parsed.records:
        await _mark_missing(session, report, existing, {r.source_id for r in parsed.records})
    return report


async def _mark_missing(session: AsyncSession, report: ImportReport, existing: dict[str, tuple[int, str, bool]],
                        present: set[str]) -> None:
    """Places of the source back in the file are shown again; absent ones are counted, then hidden at the
    MISSING_HIDE-th import in a row that lacks them. Never deleted: a partial file must not empty the map."""
    known = [pk for sid, (pk, _, local) in existing.items() if not local]
    absent = [pk for sid, (pk, _, local) in existing.items() if not local and sid not in present]
    if len(known) >= PARTIAL_MIN and len(known) - len(absent) < PARTIAL_SHARE * len(known):
        report.partial = True
        return
    back = [pk for sid, (pk, _, local) in existing.items() if not local and sid in present]
    for chunk in _chunks(back):
        await session.execute(update(Structure).where(Structure.id.in_(chunk), Structure.missing > 0)
                              .values(missing=0, hidden=case((Structure.hidden == "missing", ""),
                                                             else_=Structure.hidden)))
    for chunk in _chunks(absent):
        await session.execute(update(Structure).where(Structure.id.in_(chunk)).values(
            missing=Structure.missing + 1,
            hidden=case((and_(Structure.hidden == "", Structure.missing + 1 >= MISSING_HIDE), "missing"),
                        else_=Structure.hidden)))
    report.missing = len(absent)
    if absent:
        hidden = select(func.count()).where(Structure.id.in_(absent[:30000]), Structure.hidden == "missing")
        report.hidden = (await session.execute(hidden)).scalar_one()


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _sort(report: ImportReport, record: Record, source: str, old: tuple[int, str, bool] | None, now: datetime,
          inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
    """Decide what one record does: added, updated, unchanged or kept as locally maintained."""
    values = {**record.values, "fingerprint": fingerprint(record.values), "updated_at": now}
    if old is None:
        inserts.append({**values, "source": source, "source_id": record.source_id, "created_at": now,
                        "local": False})
        report.added += 1
    elif old[2]:
        report.kept_local += 1
    elif old[1] == values["fingerprint"]:
        report.unchanged += 1
    else:
        updates.append({**values, "id": old[0]})
        report.updated += 1


async def _flush(session: AsyncSession, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
    if inserts:
        await session.execute(insert(Structure), inserts)
    if updates:
        await session.execute(update(Structure), updates)
    inserts.clear()
    updates.clear()


async def _services_only(session: AsyncSession, source: str, services: dict[str, str], report: ImportReport,
                         now: datetime) -> None:
    """data·inclusion services whose structure came in an earlier import: set their services."""
    if not services:
        return
    rows = (await session.execute(select(Structure).where(Structure.source == source,
                                                           Structure.source_id.in_(list(services))))).scalars()
    found = {row.source_id: row for row in rows}
    for source_id, packed in services.items():
        row = found.get(source_id)
        if row is None:
            report.rejected.append(Rejected(0, "unknown_structure", source_id))
        elif row.local:
            report.kept_local += 1
        elif row.services == packed:
            report.unchanged += 1
        else:
            row.services, row.updated_at = packed, now
            report.updated += 1


async def import_file(session: AsyncSession, path: Path, now: datetime, *, source: str | None = None,
                      progress: Progress | None = None) -> ImportReport:
    """Read and upsert one file in the session's transaction; the report says what happened to every row."""
    communes()  # loaded once per process: not part of the import's own time
    started = time.perf_counter()
    parsed, default_source = read_path(path)
    report = await upsert(session, source or default_source, parsed, now, progress)
    report.seconds = time.perf_counter() - started
    return report


async def import_demo(session: AsyncSession, now: datetime) -> ImportReport:
    text = resources.files("storage.reference").joinpath(DEMO_FILE).read_text("utf-8")
    return await upsert(session, DEMO_SOURCE, read_lmn_csv(text), now)


async def seed_demo_structures(session: AsyncSession, now: datetime) -> int:
    """Import storage/reference/demo_structures.csv as source « demo »; returns how many were added."""
    return (await import_demo(session, now)).added
