"""The Coop de la médiation numérique export: read back with openpyxl, the Coop's headings, only its allowed values;
from the chat, the command line and the API (scope `coop`)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import httpx
import openpyxl
import pytest

from bot.app import App
from bot.clock import FrozenClock
from tests.chat import Chat, FakeTransport
from tests.conftest import joined
from tests.test_api import _token, api  # noqa: F401 (the API fixture)
from tests.test_console import relais
from tests.test_meeting_closing import close_first_meeting

# Transcribed from the Coop's sources (buildActivitesCoordinationWorksheet.ts and the cra/*/labels.ts files), on
# purpose not imported from storage.coop_export: a drift of ours from the Coop fails here.
COOP_HEADERS = [
    "Date de l’activité", "Type", "Durée (min.)", "Participants", "Médiateur·ice·s numérique·s", "Structure·s",
    "Autres acteur.trice.s", "Nom de l’évènement", "Type d’animation, type d’évènement, nature du partenariat",
    "Organisé par", "Structure·s partenaire·s (Nom)", "Structure·s partenaire·s (type)",
    "Échelon territorial de l’évènement ou du partenariat", "Qui est à l’initiative de cette intervention ?",
    "Thématique(s) d’animation", "Tags", "Notes", "Enregistrée le", "Dernière modification le", "ID CRA",
]
TYPES = {"Évènement", "Partenariat", "Animation"}
TYPE_ANIMATION = {
    "Assemblée / présentation officielle (Ex : conseil municipal, conseil communautaire, conseil départemental, CA "
    "d’association)", "Comité technique / de pilotage", "Groupe de travail", "Moment d’échange / aide / soutien",
    "Réunion de coordination (coordinateurs, médiateurs et conseillers numériques, préfectures, Hubs...)",
    "Webinaire", "Autre"}
ECHELONS = {"Communal", "Intercommunal", "Départemental", "Régional", "National"}
INITIATIVES = {"Intervention à mon initiative", "Réponse à un besoin/une problématique"}
THEMATIQUES = {"Échanges de bonnes pratiques / partage d’informations",
               "Maillage territorial - faire réseau / créer du lien", "Soutien technique et/ou organisationnel",
               "Projet / Parcours professionnel", "Soutien RH auprès des structures", "Autre thématique"}
NA = "/"


def check_animation_row(row: dict[str, object]) -> None:
    """Every value of an « Animation » row is one the Coop accepts (an invalid one raises AssertionError)."""
    assert isinstance(row["Date de l’activité"], date | str) and row["Date de l’activité"]
    assert row["Type"] in TYPES
    assert isinstance(row["Durée (min.)"], int) and 0 < row["Durée (min.)"] <= 24 * 60
    for count in ("Médiateur·ice·s numérique·s", "Structure·s", "Autres acteur.trice.s"):
        assert isinstance(row[count], int) and row[count] >= 0, count  # type: ignore[operator]
    for absent in ("Participants", "Nom de l’évènement", "Organisé par", "Structure·s partenaire·s (Nom)",
                   "Structure·s partenaire·s (type)"):
        assert row[absent] == NA, absent
    assert row["Type d’animation, type d’évènement, nature du partenariat"] in TYPE_ANIMATION
    assert row["Échelon territorial de l’évènement ou du partenariat"] in ECHELONS | {NA}
    assert row["Qui est à l’initiative de cette intervention ?"] in INITIATIVES
    themes = str(row["Thématique(s) d’animation"]).split("\n")
    assert themes and set(themes) <= THEMATIQUES


def read_xlsx(data: bytes) -> tuple[list[str], list[dict[str, object]]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Activités de coordination"]
    lines = [[c.value for c in line] for line in sheet.iter_rows()]
    headers = [str(h) for h in lines[0]]
    return headers, [dict(zip(headers, [v if v is not None else "" for v in line], strict=True)) for line in lines[1:]]


async def closed_meeting(app: App, transport: FakeTransport, clock: FrozenClock) -> tuple[Chat, Chat]:
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres", name="Claire")
    karim = await joined(app, transport, "referent", "u-karim", territory="35-fougeres", name="Karim")
    await joined(app, transport, "referent", "u-joel", territory="35-fougeres", name="Joël")
    await close_first_meeting(app, transport, clock, claire, karim)
    return claire, karim


async def test_the_coordinator_gets_an_xlsx_the_coop_accepts(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    claire, karim = await closed_meeting(app, transport, clock)
    got = await claire.say("/export_coop")
    assert "1 activité(s) de coordination" in got[0].text
    file = got[0].attachment
    assert file is not None and file.name.endswith(".xlsx")
    headers, rows = read_xlsx(file.data)
    assert headers == COOP_HEADERS
    [row] = rows
    check_animation_row(row)
    assert row["Date de l’activité"].date() == date(2026, 3, 12)  # type: ignore[attr-defined]
    assert (row["Durée (min.)"], row["Médiateur·ice·s numérique·s"], row["Structure·s"],
            row["Autres acteur.trice.s"]) == (180, 2, 2, 2)
    assert row["Type"] == "Animation" and row["Échelon territorial de l’évènement ou du partenariat"] == "Intercommunal"
    assert "Relancer la CAF" in str(row["Notes"]) and "06 12" not in str(row["Notes"])
    assert "Karim" not in repr(rows) and "Joël" not in repr(rows)  # counts only, no names

    as_csv = (await claire.say("/export_coop csv depuis le 1er mars"))[0].attachment
    assert as_csv is not None and as_csv.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(as_csv.data.decode().lstrip("\ufeff")), delimiter=";"))
    assert table[0] == COOP_HEADERS and table[1][0] == "12/03/2026"
    maelle = await joined(app, transport, "coordinator", "u-maelle", territory="971-nord-gt", name="Maëlle")
    assert "Aucune réunion close" in await maelle.text("/export_coop")  # another territory's meetings: not hers
    assert "réservée aux coordinateurs" in await karim.text("/export_coop")


@pytest.mark.parametrize("column, wrong", [
    ("Type", "Réunion"),
    ("Type d’animation, type d’évènement, nature du partenariat", "Réunion trimestrielle"),
    ("Échelon territorial de l’évènement ou du partenariat", "Départemental (35)"),
    ("Thématique(s) d’animation", "Réseau"),
    ("Médiateur·ice·s numérique·s", "3"),
])
async def test_an_invalid_value_fails_the_check(app: App, transport: FakeTransport, clock: FrozenClock, column: str,
                                                wrong: str) -> None:
    from storage.coop_export import CoopRow, to_xlsx

    row = CoopRow(date(2026, 3, 12), 120, 3, 3, 1, "ReunionCoordination", "Intercommunal", "Initiative",
                  ("Reseau",), "Réunion", "12/03/2026 à 17:00", "relais-1")
    _, [good] = read_xlsx(to_xlsx([row]))
    check_animation_row(good)
    with pytest.raises(AssertionError):
        check_animation_row({**good, column: wrong})


async def test_command_line_and_api_with_the_coop_scope(
    app: App, transport: FakeTransport, clock: FrozenClock, api: str, database_url: str,  # noqa: F811
    tmp_path: Path
) -> None:
    await closed_meeting(app, transport, clock)
    out = tmp_path / "coop.xlsx"
    done = relais(database_url, tmp_path, "export", "coordination", "--since", "2026-01-01", "--territory", "35",
                  "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "1 activité(s)" in done.stdout
    headers, rows = read_xlsx(out.read_bytes())
    assert headers == COOP_HEADERS and len(rows) == 1
    check_animation_row(rows[0])
    elsewhere = relais(database_url, tmp_path, "export", "coordination", "--since", "2026-01-01", "--territory",
                       "971", "--output", str(tmp_path / "971.csv"))
    assert "0 activité(s)" in elsewhere.stdout
    assert (tmp_path / "971.csv").read_text("utf-8-sig").splitlines() == [";".join(COOP_HEADERS)]

    coop = _token(database_url, tmp_path, "35", "--scope", "coop")
    reports_only = _token(database_url, tmp_path, "35")
    async with httpx.AsyncClient(base_url=api) as client:
        sheet = await client.get("/api/v1/coordination.xlsx", params={"since": "2026-01-01"},
                                 headers={"Authorization": f"Bearer {coop}"})
        refused = await client.get("/api/v1/coordination.csv", params={"since": "2026-01-01"},
                                   headers={"Authorization": f"Bearer {reports_only}"})
        not_reports = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {coop}"})
        outside = await client.get("/api/v1/coordination.csv", params={"since": "2026-01-01", "territory": "971"},
                                   headers={"Authorization": f"Bearer {coop}"})
    assert sheet.status_code == 200
    headers, rows = read_xlsx(sheet.content)
    assert headers == COOP_HEADERS and len(rows) == 1
    check_animation_row(rows[0])
    assert (refused.status_code, not_reports.status_code, outside.status_code) == (403, 403, 403)
