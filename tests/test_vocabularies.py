"""Shared national vocabularies: report themes carry Coop de la médiation numérique codes, places data·inclusion
`thematiques` codes, so a national aggregation needs no mapping."""

from __future__ import annotations

from data_inclusion.schema import v1

from storage.structure_import import read_lmn_csv
from storage.structures import unpack
from storage.themes import coop_codes, themes

# The Coop's enum Thematique (inclusion-numerique/coop-mediation-numerique, apps/web/prisma/schema.prisma).
COOP_SAMPLE = {"aide_aux_demarches_administratives", "securite_numerique", "diagnostic_numerique", "parentalite"}


def test_every_report_theme_maps_to_valid_coop_codes() -> None:
    assert len(coop_codes()) == 30 and coop_codes() >= COOP_SAMPLE
    for theme in (*themes().problems, *themes().services):
        assert theme.coop, theme.id
        assert set(theme.coop) <= coop_codes(), (theme.id, set(theme.coop) - coop_codes())


def test_every_place_theme_maps_to_valid_data_inclusion_codes() -> None:
    valid = {code.value for code in v1.Thematique}
    for theme in themes().services:
        assert theme.di and set(theme.di) <= valid, theme.id
    header = "id,nom,commune,code_postal,adresse,services"
    services = "|".join(theme.label for theme in themes().services)
    parsed = read_lmn_csv(f'{header}\nx,Lieu,Rennes,35000,1 rue A,"{services}"\n')
    stored = unpack(parsed.records[0].values["thematiques"])
    assert stored and set(stored) <= valid
    assert "numerique--acceder-a-une-connexion-internet" in stored
