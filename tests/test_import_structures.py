"""relais import-structures: LMN CSV (v1 and v0.1) and JSON, data·inclusion JSON; upsert, rejects, local edits."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.config import Settings
from bot.ops import cli
from storage.structure_import import ImportReport, import_file, read_lmn_csv
from storage.structures import Structure, save_local

HEADER = ("id,pivot,nom,commune,code_postal,code_insee,adresse,latitude,longitude,typologie,telephone,"
          "horaires,date_maj,services,formations_labels")
ROWS = [
    # line 2: good, curly apostrophe and stray spaces in services, a glued label in formations_labels
    'a1,00000000000000,Médiathèque test,Romagné,35133,35243,2 rue X,48.34,-1.27,BIB,02 99 00 12 34,'
    '"Mo-Fr 09:00-12:00",2025-01-10," Aide aux démarches administratives |Maîtrise des outils numériques du '
    'quotidien|Cuisine",Étapes numériques(La Poste)',
    # line 3: no id
    ',0,Sans identifiant,Romagné,35133,35243,1 rue Y,,,,,,2025-01-10,,',
    # line 4: good, no INSEE code nor position: found by postal code and name, placed at the town hall
    'a2,0,France Services test,Fougères,35300,,15 rue Nationale,,,RFS,,,2025-01-10,'
    'Aide aux démarches administratives,',
    # line 5: unknown commune
    'a3,0,Lieu perdu,Nullepart,99999,,1 rue Z,,,,,,2025-01-10,,',
    # line 6: latitude is not a number
    'a4,0,Mauvaise latitude,Vitré,35500,35360,1 rue Z,abc,-1.2,,,,2025-01-10,,',
    # line 7: the same id again
    'a1,0,Doublon,Vitré,35500,35360,1 rue Z,48.1,-1.2,,,,2025-01-10,,',
    # line 8: a column missing
    'a5,0,Colonne manquante,Vitré,35500,35360,1 rue Z,48.1,-1.2,,,,2025-01-10,',
    # lines 9-10: good, hours unreadable and an address spread over two lines
    'a6,0,Centre social test,Le Moule,97160,97117,"Bd Maritime\nrez-de-chaussée",16.33,-61.34,CSC,,lundi matin,'
    '2025-01-10,Accès internet et matériel informatique,',
    # line 11: good
    'a7,0,Cyberbase test,Les Abymes,97139,97101,Raizet,16.27,-61.50,EPN,,,2025-01-10,'
    'Accès internet et matériel informatique,',
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def run(app: App, path: Path, source: str | None = None) -> ImportReport:
    async with app.sessions() as session, session.begin():
        return await import_file(session, path, app.clock.now(), source=source)


async def rows(app: App) -> dict[str, Structure]:
    async with app.sessions() as session:
        return {s.source_id: s for s in (await session.execute(select(Structure))).scalars()}


async def test_good_rows_imported_bad_ones_reported_by_line_and_a_reimport_changes_nothing(
        app: App, tmp_path: Path) -> None:
    path = write(tmp_path, "lieux.csv", "\n".join([HEADER, *ROWS]) + "\n")
    report = await run(app, path)
    assert (report.source, report.added, report.updated, report.unchanged) == ("lmn", 4, 0, 0)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "missing_id"), (5, "unknown_commune"), (6, "bad_latitude"), (7, "duplicate"), (8, "bad_row")]
    assert report.unknown_services == {"Cuisine": 1} and report.bad_hours == 1
    found = await rows(app)
    assert found["a1"].services == "|demarches|outils|" and found["a1"].kinds == "|BIB|"
    assert (found["a2"].insee, found["a2"].precise, found["a2"].lat) == ("35115", False, 48.35151)
    assert found["a6"].address == "Bd Maritime rez-de-chaussée" and found["a6"].departement == "971"
    again = await run(app, path)
    assert (again.added, again.updated, again.unchanged, len(again.rejected)) == (0, 0, 4, 5)
    assert {k: v.updated_at for k, v in (await rows(app)).items()} == {k: v.updated_at for k, v in found.items()}


async def test_changed_rows_are_updated_and_local_edits_are_kept(app: App, tmp_path: Path) -> None:
    await run(app, write(tmp_path, "v1.csv", "\n".join([HEADER, ROWS[0], ROWS[2]]) + "\n"))
    async with app.sessions() as session, session.begin():
        mine = (await session.execute(select(Structure).where(Structure.source_id == "a2"))).scalar_one()
        await save_local(session, {"phone": "02 99 00 99 99", "hours": "Mo 09:00-12:00"}, app.clock.now(), mine)
    changed = [ROWS[0].replace("02 99 00 12 34", "02 99 00 43 21"), ROWS[2].replace("15 rue", "17 rue")]
    report = await run(app, write(tmp_path, "v2.csv", "\n".join([HEADER, *changed]) + "\n"))
    assert (report.added, report.updated, report.unchanged, report.kept_local) == (0, 1, 0, 1)
    found = await rows(app)
    assert found["a1"].phone == "+33299004321"  # stored E.164, shown « 02 99 00 43 21 »
    assert (found["a2"].phone, found["a2"].address, found["a2"].local) == ("02 99 00 99 99", "15 rue Nationale", True)


async def test_v0_1_files_with_semicolons(app: App, tmp_path: Path) -> None:
    comma = ("id,nom,commune,code_postal,code_insee,adresse,courriel,services\n"
             "v1,EPN test,Vitré,35500,35360,1 rue A,epn@example.org,"
             "Prendre en main un ordinateur;Réaliser des démarches administratives avec un accompagnement\n")
    report = await run(app, write(tmp_path, "v01.csv", comma), source="hub-bretagne")
    assert (report.source, report.added, report.rejected) == ("hub-bretagne", 1, [])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["id", "nom", "commune", "code_postal", "horaires", "services"])
    writer.writerow(["v2", "Mairie test", "Le Moule", "97160", "Mo-Fr 08:00-12:00; Sa 08:00-10:00",
                     "Accéder à une connexion internet|Équiper en matériel informatique"])
    parsed = read_lmn_csv(out.getvalue())
    assert parsed.rejected == [] and parsed.records[0].values["hours"] == "Mo-Fr 08:00-12:00; Sa 08:00-10:00"
    assert parsed.records[0].values["services"] == "|acces|materiel|"
    found = await rows(app)
    assert found["v1"].services == "|outils|demarches|" and found["v1"].email == "epn@example.org"


async def test_lmn_json(app: App, tmp_path: Path) -> None:
    items = [{"id": "j1", "pivot": "0", "nom": "Tiers-lieu test", "commune": "Rennes", "code_postal": "35000",
              "adresse": "1 place A", "latitude": 48.1, "longitude": -1.67, "typologie": ["TIERS_LIEUX"],
              "services": ["Loisirs et créations numériques"], "date_maj": "2025-02-01"},
             {"id": "j2", "nom": "", "commune": "Rennes", "code_postal": "35000"}]
    report = await run(app, write(tmp_path, "lieux.json", json.dumps(items)))
    assert (report.added, [(r.line, r.reason) for r in report.rejected], report.unit) == (
        1, [(2, "missing_name")], "item")
    assert (await rows(app))["j1"].services == "|loisirs|"


def _di_structure(number: int, **changes: object) -> dict[str, object]:
    base = {"source": "dora", "id": f"s{number}", "nom": f"Structure {number}", "date_maj": "2025-03-01",
            "commune": "Les Abymes", "code_postal": "97139", "code_insee": "97101", "adresse": "Raizet",
            "latitude": 16.27, "longitude": -61.5, "reseaux_porteurs": ["france-service"],
            "horaires_accueil": "Mo-Fr 08:00-12:00"}
    return {**base, **changes}


def _di_service(number: int, structure: str, thematiques: list[str]) -> dict[str, object]:
    return {"source": "dora", "id": f"v{number}", "structure_id": structure, "nom": "Aide numérique",
            "description": "Accompagnement au numérique", "date_maj": "2025-03-01", "thematiques": thematiques}


async def test_data_inclusion_structures_and_services(app: App, tmp_path: Path) -> None:
    export = {"structures": [_di_structure(1), _di_structure(2, code_postal="ABC")],
              "services": [_di_service(1, "s1", ["numerique--acceder-a-une-connexion-internet",
                                                 "difficultes-administratives-ou-juridiques--accompagnement-aux-"
                                                 "demarches-administratives", "famille--garde-denfants"])]}
    report = await run(app, write(tmp_path, "di.json", json.dumps(export)))
    assert (report.source, report.added) == ("data-inclusion", 1)
    assert [(r.line, r.reason) for r in report.rejected] == [(2, "invalid")]
    assert "code_postal" in report.rejected[0].value
    found = (await rows(app))["dora:s1"]
    assert (found.services, found.kinds, found.insee) == ("|acces|demarches|", "|RFS|", "97101")
    later = [_di_service(2, "s1", ["numerique--acquerir-un-equipement"]), _di_service(3, "s9", [])]
    services = await run(app, write(tmp_path, "services.json", json.dumps(later)))
    assert services.updated == 1 and [r.reason for r in services.rejected] == ["unknown_structure"]
    assert (await rows(app))["dora:s1"].services == "|materiel|"


async def test_the_command_line_prints_a_summary_and_the_rejected_lines(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "lieux.csv", "\n".join([HEADER, *ROWS]) + "\n")
    code = await cli.cmd_import_structures(argparse.Namespace(file=str(path), source=None), settings)
    out = capsys.readouterr().out
    assert code == 0
    assert "lmn : 4 ajoutés, 0 mis à jour, 0 inchangés, 0 gardés (tenus par le réseau), 5 rejetés" in out
    assert "ligne 5 : commune introuvable (99999 Nullepart)" in out
    assert "ligne 7 : identifiant en double : a1 (2)" in out and "« Cuisine » (1)" in out
    missing = await cli.cmd_import_structures(argparse.Namespace(file=str(tmp_path / "x.csv"), source=None),
                                              settings)
    assert missing == 1


FIXTURES = Path(__file__).parent / "fixtures"


async def test_the_standards_own_example_is_placed_in_reims_with_its_phone_and_filters(app: App) -> None:
    """exemple-valide.csv puts a Reims place (51454) in Provence, 600 km away, with « 33180059880 »."""
    report = await run(app, FIXTURES / "lmn_exemple_reims.csv")
    assert (report.added, report.flags["far"], report.flags["bad_phone"]) == (1, 1, 0)
    place = (await rows(app))["structure-1"]
    assert (place.precise, place.insee) == (False, "51454")
    assert abs(place.lat - 49.25) < 0.1 and abs(place.lon - 4.03) < 0.1  # Reims, not Provence
    assert place.phone == "+33180059880"
    assert place.tags == ("|pub:jeunes|pub:femmes|acc:surdite|acc:illettrisme|lang:en|fee:condition|fee:payant"
                          "|acces:presenter|acces:telephoner|acces:rdv|rdv|")
    assert "numerique--maitriser-les-fondamentaux-du-numerique" in place.thematiques


async def test_a_place_near_its_commune_keeps_its_position_and_a_big_commune_gets_more_room(
        app: App, tmp_path: Path) -> None:
    text = "\n".join([HEADER,
                      "n1,0,Près,Vitré,35500,35360,1 rue A,48.20,-1.10,,0299001234,,2025-01-10,,",  # 10 km
                      "n2,0,Loin,Vitré,35500,35360,1 rue A,48.70,-1.20,,+33 2 99 00 12 34,,2025-01-10,,",  # 65 km
                      "n3,0,Paris loin,Paris,75001,75056,1 rue A,48.52,2.35,,12,,2025-01-10,,"]) + "\n"  # 37 km
    report = await run(app, write(tmp_path, "near.csv", text))
    found = await rows(app)
    assert (found["n1"].precise, found["n1"].lat, found["n2"].precise, found["n3"].precise) == (True, 48.2, False, True)
    assert (found["n1"].phone, found["n2"].phone, found["n3"].phone) == ("+33299001234", "+33299001234", "12")
    assert (report.flags["far"], report.flags["bad_phone"]) == (1, 1)


async def test_deep_json_is_refused_in_french_and_all_rejected_exits_1(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    assert await cli.cmd_import_structures(argparse.Namespace(file=str(deep), source=None), settings) == 1
    assert "imbriqué sur plus de 40 niveaux" in capsys.readouterr().err
    wrong = write(tmp_path, "wrong.csv", "identifiant,titre,ville\nx1,Lieu,Rennes\nx2,Autre,Brest\n")
    code = await cli.cmd_import_structures(argparse.Namespace(file=str(wrong), source=None), settings)
    captured = capsys.readouterr()
    assert code == 1
    assert "commune introuvable ()" not in captured.out and "identifiant (id) manquant" in captured.out
    assert "Rien n'a été importé : les 2 lignes sont rejetées (2 × identifiant (id) manquant)" in captured.err
    assert "Colonnes attendues absentes : id, nom, commune, code_postal, adresse" in captured.err
    nameless = write(tmp_path, "nameless.csv", "id,nom,adresse\nx1,Lieu,1 rue A\n")
    assert await cli.cmd_import_structures(argparse.Namespace(file=str(nameless), source=None), settings) == 1
    assert "commune manquante (ni code_insee, ni code_postal, ni commune)" in capsys.readouterr().out


async def test_places_missing_from_a_new_file_are_flagged_then_hidden(app: App, tmp_path: Path) -> None:
    good = [ROWS[0], ROWS[2], ROWS[7], ROWS[8]]
    await run(app, write(tmp_path, "v1.csv", "\n".join([HEADER, *good]) + "\n"))
    first = await run(app, write(tmp_path, "v2.csv", "\n".join([HEADER, *good[1:]]) + "\n"))
    assert (first.missing, first.hidden, (await rows(app))["a1"].hidden) == (1, 0, "")
    second = await run(app, write(tmp_path, "v3.csv", "\n".join([HEADER, *good[1:]]) + "\n"))
    assert (second.missing, second.hidden) == (1, 1)
    assert ((await rows(app))["a1"].missing, (await rows(app))["a1"].hidden) == (2, "missing")
    back = await run(app, write(tmp_path, "v4.csv", "\n".join([HEADER, *good]) + "\n"))
    assert back.missing == 0 and ((await rows(app))["a1"].missing, (await rows(app))["a1"].hidden) == (0, "")
    assert len(await rows(app)) == 4  # never deleted
