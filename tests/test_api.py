"""The coordination API over real HTTP: scoped tokens from the CLI, JSON and CSV, small cells suppressed."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.api import serve
from bot.app import App
from storage.members import find_member
from storage.reports import NewReport, create_report
from storage.territories import by_code
from tests.chat import FakeTransport
from tests.conftest import joined
from tests.servers.process import free_port
from tests.test_console import relais


async def _seed_reports(app: App, transport: FakeTransport) -> None:
    """7 reports in the Pays de Fougères (5 « demarche », 2 « connexion »), 4 in Guadeloupe."""
    await joined(app, transport, "referent", "u-api-35", territory="35-fougeres", name="Karim Secret")
    await joined(app, transport, "referent", "u-api-971", territory="971-nord-gt", name="Joël Secret")
    plan = [("u-api-35", "35-fougeres", "demarche", "35243")] * 5 + [("u-api-35", "35-fougeres", "connexion",
                                                                     "35115")] * 2
    plan += [("u-api-971", "971-nord-gt", "demarche", "97117")] * 4
    async with app.sessions() as session, session.begin():
        for i, (user, code, theme, insee) in enumerate(plan):
            member = await find_member(session, "test", user)
            territory = await by_code(session, code)
            assert member and territory
            new = NewReport(member.id, territory.id, theme, insee, insee[:2] if code != "971-nord-gt" else "971",
                            f"Description {i} ; la démarche bloque", "seniors", "normal", (), f"k{i}")
            await create_report(session, new, app.clock.now() - timedelta(days=i))


@pytest.fixture
async def api(app: App, transport: FakeTransport) -> AsyncIterator[str]:
    await _seed_reports(app, transport)
    port = free_port()
    stop = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(app, f"127.0.0.1:{port}", stop))
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                await client.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    yield base
    stop.set_result(None)
    await task


def _token(database_url: str, tmp_path: Path, territory: str, *extra: str) -> str:
    result = relais(database_url, tmp_path, "token", "create", "--name", "Département", "--territory", territory,
                    *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_reports_json_csv_scoped_and_without_authors(api: str, database_url: str, tmp_path: Path) -> None:
    token = _token(database_url, tmp_path, "35-fougeres", "--scope", "reports")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, headers=headers) as client:
        first = (await client.get("/api/v1/reports", params={"limit": 4})).json()
        second = (await client.get("/api/v1/reports", params={"limit": 4, "cursor": first["next_cursor"]})).json()
        as_csv = await client.get("/api/v1/reports.csv", params={"sep": ";"})
    items = first["items"] + second["items"]
    assert len(items) == 7 and second["next_cursor"] is None
    assert {i["territory"] for i in items} == {"35-fougeres"}
    assert len({i["reference"] for i in items}) == 7
    body = repr(items) + as_csv.text
    for forbidden in ("author", "Karim", "Secret", "u-api", "97117", "971-nord-gt"):
        assert forbidden not in body
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 7 and rows[0]["commune"] in {"Romagné", "Fougères"}
    assert "démarche" in rows[0]["description"]


async def test_stats_suppress_small_cells(api: str, database_url: str, tmp_path: Path) -> None:
    token = _token(database_url, tmp_path, "35")
    async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"}) as client:
        stats = (await client.get("/api/v1/stats", params={"group_by": "theme"})).json()
        by_commune = (await client.get("/api/v1/stats", params={"group_by": "commune,theme"})).json()
        weekly = await client.get("/api/v1/stats", params={"group_by": "territory,week"})
    cells = {row["theme"]: row for row in stats["rows"]}
    # 5 « demarche », 2 « connexion »: hiding only the 2 would leave it as (total 7) - 5, so both are hidden
    assert cells["connexion"] == {"theme": "connexion", "count": None, "suppressed": True}
    assert cells["demarche"] == {"theme": "demarche", "count": None, "suppressed": True}
    assert all(r["count"] is None or r["count"] >= 3 for r in by_commune["rows"])
    assert weekly.status_code == 200 and all(r["territory"] == "35-fougeres" for r in weekly.json()["rows"])


async def test_errors_401_403_400_with_json_bodies(api: str, database_url: str, tmp_path: Path) -> None:
    token = _token(database_url, tmp_path, "35-fougeres", "--scope", "reports,stats")
    async with httpx.AsyncClient(base_url=api) as client:
        missing = await client.get("/api/v1/reports")
        invalid = await client.get("/api/v1/reports", headers={"Authorization": "Bearer rl_nope"})
        headers = {"Authorization": f"Bearer {token}"}
        other = await client.get("/api/v1/reports", params={"territory": "971"}, headers=headers)
        bad_group = await client.get("/api/v1/stats", params={"group_by": "author"}, headers=headers)
        bad_date = await client.get("/api/v1/reports", params={"since": "hier"}, headers=headers)
    assert (missing.status_code, invalid.status_code, other.status_code) == (401, 401, 403)
    assert (bad_group.status_code, bad_date.status_code) == (400, 400)
    assert all("error" in r.json() for r in (missing, invalid, other, bad_group, bad_date))


async def test_revoked_tokens_are_refused_and_tokens_are_stored_hashed(
    api: str, app: App, database_url: str, tmp_path: Path
) -> None:
    token = _token(database_url, tmp_path, "35-fougeres", "--scope", "reports")
    listing = relais(database_url, tmp_path, "token", "list").stdout
    assert token not in listing and token[:10] in listing
    async with app.sessions() as session:
        from sqlalchemy import text

        stored = repr((await session.execute(text("select * from api_token"))).all())
    assert token not in stored
    token_id = listing.split("\t")[0]
    assert relais(database_url, tmp_path, "token", "revoke", token_id).returncode == 0
    async with httpx.AsyncClient(base_url=api) as client:
        refused = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


async def test_health_metrics_and_openapi(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as client:
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
        spec = await client.get("/openapi.json")
        docs = await client.get("/docs")
    assert health.status_code == 200 and health.json()["checks"]["database"] is True
    assert "relais_reports 11.0" in metrics.text and "relais_outbox_depth" in metrics.text
    assert "/api/v1/stats" in spec.json()["paths"] and docs.status_code == 200
