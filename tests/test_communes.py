"""Communes reference: loading, folding, search, homonyms, postal codes and free-text extraction."""

from __future__ import annotations

import pytest

from storage.communes import Commune, CommuneIndex, communes, distance_km
from storage.normalize import fold, strip_article


@pytest.fixture(scope="module")
def index() -> CommuneIndex:
    return communes()


def insees(found: list[Commune] | tuple[Commune, ...]) -> set[str]:
    return {commune.insee for commune in found}


def test_fold_and_strip_article() -> None:
    assert fold("  L’Île-d'Yeu ") == "l ile d yeu"
    assert fold("St-Martin-de-Ré") == fold("saint martin de re") == "saint martin de re"
    assert fold("Ste Marie") == "sainte marie"
    assert fold("ŒUVRE,  Pointe-à-Pitre!") == "oeuvre pointe a pitre"
    assert strip_article("le moule") == "moule"
    assert strip_article("l ile d yeu") == "ile d yeu"
    assert strip_article("aux marais") == "marais"
    assert strip_article("les") == "les"
    assert strip_article("lesparre medoc") == "lesparre medoc"


def test_known_communes_and_labels(index: CommuneIndex) -> None:
    romagne = index.get("35243")
    moule = index.get("97117")
    assert romagne is not None and romagne.label == "Romagné (35)"
    assert moule is not None and moule.label == "Le Moule (971)"
    assert moule.postal_codes == ("97160",)
    assert moule.epci_siren and moule.population and moule.lat and moule.lon
    assert index.get("2a004") is not None and index.get("2A004").name == "Ajaccio"  # type: ignore[union-attr]


def test_articles_rebuilt(index: CommuneIndex) -> None:
    assert index.get("01001").name == "L'Abergement-Clémenciat"  # type: ignore[union-attr]
    assert index.get("60703").name == "Aux Marais"  # type: ignore[union-attr]
    assert index.get("66104").name == "Los Masos"  # type: ignore[union-attr]


def test_coverage(index: CommuneIndex) -> None:
    assert 34_800 <= len(index) <= 35_000
    departements = {commune.departement for commune in index}
    assert {"971", "972", "973", "974", "976", "2A", "2B", "35"} <= departements
    assert not departements & {"975", "977", "978"}
    assert index.get("75111") is None and index.get("75056") is not None


def test_homonyms_need_the_territory(index: CommuneIndex) -> None:
    ambiguous = index.resolve("Romagne")
    assert ambiguous.commune is None and ambiguous.ambiguous
    assert insees(ambiguous.candidates) == {"33358", "86211", "35243"}
    assert index.resolve("Romagne", prefer_departements=("35",)).commune == index.get("35243")
    assert index.resolve("Romagné").ambiguous  # the accent alone does not decide
    assert index.resolve("Romagné", prefer_insee=("86211",)).commune == index.get("86211")
    assert index.resolve("Saint-Denis", prefer_departements=("974",)).commune == index.get("97411")
    assert index.resolve("Saint-Denis", prefer_departements=("93",)).commune == index.get("93066")
    assert index.resolve("Romagné (35)").commune == index.get("35243")


def test_candidates_put_the_territory_first(index: CommuneIndex) -> None:
    resolution = index.resolve("saint denis", prefer_departements=("974", "93"))
    assert resolution.ambiguous
    assert insees(resolution.candidates[:2]) == {"97411", "93066"}


def test_spelling_variants_are_equivalent(index: CommuneIndex) -> None:
    expected = insees(index.resolve("Saint-Denis").candidates)
    assert {"93066", "97411"} <= expected
    for variant in ("st denis", "SAINT DENIS", "saint-denis", "St-Denis", "saintdenis"):
        assert insees(index.resolve(variant).candidates) == expected
    for variant in ("le moule", "LE MOULE", "Moule", "lemoule", "Le-Moule"):
        assert index.resolve(variant).commune == index.get("97117")


def test_typos(index: CommuneIndex) -> None:
    assert index.resolve("Romagnee", prefer_departements=("35",)).commune == index.get("35243")
    assert insees(index.resolve("romagnee").candidates) == {"33358", "86211", "35243"}
    typo = index.resolve("le moul")
    assert typo.commune == index.get("97117") and typo.fuzzy
    assert index.resolve("Marseile").commune == index.get("13055")
    assert index.resolve("pointe a pitr").commune == index.get("97120")
    assert not index.resolve("xqzwv").found and not index.resolve("xqzwv").ambiguous


def test_search_ranks_exact_then_population(index: CommuneIndex) -> None:
    hits = index.search("Romagné")
    assert hits[0].commune.insee == "35243" and hits[0].score == 100
    assert index.search("le mool")[0].commune.insee == "97117"
    bordeaux = index.search("Bordeau")
    assert bordeaux[0].commune.insee == "33063" and bordeaux[0].score < 100
    assert len(index.search("saint", limit=3)) == 3


def test_postal_codes(index: CommuneIndex) -> None:
    assert index.resolve("97160").commune == index.get("97117")
    assert index.resolve("75011").commune == index.get("75056")
    assert index.by_postal_code("13008") == [index.get("13055")]
    assert index.by_postal_code("69003") == [index.get("69123")]
    assert len(index.by_postal_code("35133")) > 1
    assert index.search("97160")[0].commune.name == "Le Moule"


def test_extract_from_free_text(index: CommuneIndex) -> None:
    resolution, rest = index.extract("démarches Romagné", prefer_departements=("35",))
    assert resolution is not None and resolution.commune == index.get("35243") and rest == "démarches"
    resolution, rest = index.extract("ordinateur 97160")
    assert resolution is not None and resolution.commune == index.get("97117") and rest == "ordinateur"
    resolution, rest = index.extract("wifi le moule")
    assert resolution is not None and resolution.commune == index.get("97117") and rest == "wifi"
    resolution, rest = index.extract("aide caf a st denis", prefer_departements=("974",))
    assert resolution is not None and resolution.commune == index.get("97411") and rest == "aide caf"


def test_extract_homonyms_and_postal_code_together(index: CommuneIndex) -> None:
    resolution, rest = index.extract("aide caf à St-Denis")
    assert resolution is not None and resolution.ambiguous and rest == "aide caf"
    resolution, rest = index.extract("aide caf à Saint-Denis 97400")
    assert resolution is not None and resolution.commune == index.get("97411") and rest == "aide caf"


def test_extract_typo_after_a_preposition(index: CommuneIndex) -> None:
    resolution, rest = index.extract("atelier à Romagnee", prefer_departements=("35",))
    assert resolution is not None and resolution.commune == index.get("35243") and resolution.fuzzy
    assert rest == "atelier"


@pytest.mark.parametrize(
    "text",
    ["la réunion est annulée", "ma box orange ne marche plus", "merci Pierre", "rendez-vous mairie",
     "carte grise", "je vais à la mairie", "aide à la création de compte", "ateliers le mardi", "rdv le 3 mars"],
)
def test_extract_ignores_everyday_words(index: CommuneIndex, text: str) -> None:
    assert index.extract(text) == (None, text)


def test_extract_takes_capitalised_place_names(index: CommuneIndex) -> None:
    resolution, rest = index.extract("atelier à Orange")
    assert resolution is not None and resolution.commune == index.get("84087") and rest == "atelier"


def test_distance_and_nearest(index: CommuneIndex) -> None:
    assert distance_km(48.8566, 2.3522, 45.7640, 4.8357) == pytest.approx(392, abs=3)
    moule = index.get("97117")
    assert moule is not None and moule.lat is not None and moule.lon is not None
    nearest = index.nearest(moule.lat, moule.lon, 3)
    assert nearest[0] == (moule, 0.0) and len(nearest) == 3
    assert nearest[1][1] <= nearest[2][1]


def test_every_commune_has_a_position_inside_its_departement(index: CommuneIndex) -> None:
    extents = index.extents()
    unlocated = [c.insee for c in index if c.lat is None or c.lon is None]
    outside = [c.label for c in index if c.lat is not None and (c.lat, c.lon) not in extents[c.departement]]
    assert unlocated == [] and outside == []


def test_overseas_longitudes_have_their_sign(index: CommuneIndex) -> None:
    west = {"971": (-61.9, -61.0), "972": (-61.3, -60.8), "973": (-54.7, -51.5)}
    for commune in index:
        if commune.departement in west:
            low, high = west[commune.departement]
            assert commune.lon is not None and low <= commune.lon <= high, commune.label


def _km(index: CommuneIndex, a: str, b: str) -> float:
    one, two = index.get(a), index.get(b)
    assert one and two and one.lat and one.lon and two.lat and two.lon
    return distance_km(one.lat, one.lon, two.lat, two.lon)


def test_named_outliers_are_where_they_belong(index: CommuneIndex) -> None:
    assert _km(index, "97102", "97117") == pytest.approx(20, abs=5)  # Anse-Bertrand ↔ Le Moule
    assert _km(index, "97128", "97117") == pytest.approx(13, abs=4)  # Sainte-Anne ↔ Le Moule
    assert _km(index, "97129", "97105") == pytest.approx(37, abs=6)  # Sainte-Rose ↔ Basse-Terre
    assert _km(index, "56098", "56121") < 8  # Lanester ↔ Lorient
    for insee, town in [("55180", "55545"), ("55266", "55545"), ("55541", "55029"), ("57073", "57606"),
                        ("60166", "60159"), ("60192", "60471"), ("88513", "88160")]:
        commune = index.get(insee)
        assert commune is not None and commune.lon != commune.lat
        assert _km(index, insee, town) < 40, commune.label  # Verdun, Bar-le-Duc, Saint-Avold, Compiègne, Noyon…
