"""The CSV export streamed: on PostgreSQL the server writes the lines (COPY), byte for byte what the portable
path writes; every text a spreadsheet could run stays inert, whatever it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from bot.api import create_api
from bot.api.rows import csv_stream
from bot.app import App
from storage.report_stats import export_pages
from storage.reports import NewReport, Report, ReportFilter, create_report
from storage.territories import by_code, subtree_ids
from storage.tokens import create_token

AWKWARD = ["=SOMME(A1:A3)", "+33 6 12", "-3 jours", "@ccas", "\tdécalé", '"Guillemets" et ""doubles""',
           "Ligne 1\nLigne 2\r\nLigne 3", "Barre \\ oblique \\n pas un saut", "Cloche \b page \f tab\tvert \v fin",
           "Point-virgule ; virgule , fin", "Accents : é à ç œ — « » €", ""]


async def _reports(app: App) -> tuple[list[int], str]:
    async with app.sessions() as session, session.begin():
        place = await by_code(session, "35-fougeres")
        assert place is not None
        now = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
        for i, text in enumerate(AWKWARD):
            insee = ("35115", "35243", "2a004", "99999")[i % 4]  # known, known, lower-case Corsica, unknown
            theme = ("demarche", "connexion", "inconnu")[i % 3]
            report = await create_report(session, NewReport(None, place.id, theme, insee, insee[:2], text, text,
                                                            "urgent", (), f"export-{i}"),  # type: ignore[arg-type]
                                         now + timedelta(microseconds=(0, 123456)[i % 2]))
            if i % 3 == 0:
                await session.execute(update(Report).where(Report.id == report.id).values(
                    acknowledged_at=now + timedelta(hours=1, microseconds=i), resolved_at=now + timedelta(days=1)))
        token = await create_token(session, name="export", territory_id=place.id, scopes=("reports",), now=now,
                                   expires_at=None)
        return await subtree_ids(session, place.id), token.token


async def test_the_export_is_the_same_bytes_on_every_database(app: App) -> None:
    ids, token = await _reports(app)
    api = create_api(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for sep in (",", ";"):
            served = (await client.get("/api/v1/reports.csv", params={"sep": sep})).content
            portable = "".join([chunk async for chunk in csv_stream(export_pages(app.sessions, ReportFilter(ids)),
                                                                    sep)]).encode()
            assert served.decode().splitlines() == portable.decode().splitlines()
            assert served == portable
    text = served.decode()
    assert text.startswith("\ufeff") and text.count("\r\n") >= len(AWKWARD) + 1
    assert "\"'=SOMME(A1:A3)\"" in text and "\"'@ccas\"" in text and '"""Guillemets"" et """"doubles"""""' in text
    assert "Barre \\ oblique \\n pas un saut" in text and "Cloche \b page \f tab\tvert \v fin" in text
    assert "T09:30:00.123456+00:00" in text and "T09:30:00+00:00" in text
