"""French of places (bot/french.py)."""

from __future__ import annotations

from bot import french


def test_at() -> None:
    assert french.at("Le Moule") == "au Moule"
    assert french.at("Les Abymes") == "aux Abymes"
    assert french.at("Le Moule (971)") == "au Moule (971)"
    assert french.at("Rennes") == "à Rennes"
    assert french.at("La Possession") == "à La Possession"
    assert french.at("L'Étang-Salé") == "à L'Étang-Salé"


def test_of() -> None:
    assert french.of("Ille-et-Vilaine") == "d'Ille-et-Vilaine"
    assert french.of("Le Moule") == "du Moule"
    assert french.of("Les Abymes") == "des Abymes"
    assert french.of("Rennes") == "de Rennes"
    assert french.of("Réseau du Pays de Fougères") == "du Réseau du Pays de Fougères"
    assert french.of("Agglomération du Grand Moule") == "de l'Agglomération du Grand Moule"
    assert french.of("Communauté d'agglomération Cap Excellence") == "de la Communauté d'agglomération Cap Excellence"


def test_in_area_and_network() -> None:
    assert french.in_area("Guadeloupe") == "en Guadeloupe"
    assert french.in_area("Ille-et-Vilaine") == "en Ille-et-Vilaine"
    assert french.in_area("Morbihan") == "dans le Morbihan"
    assert french.in_area("Ain") == "dans l'Ain"
    assert french.in_area("La Réunion") == "à La Réunion"
    assert french.in_area("Bretagne") == "en Bretagne"
    assert french.of_network("Réseau du Pays de Fougères") == "du Réseau du Pays de Fougères"
    assert french.of_network("Fougères Agglo") == "du réseau Fougères Agglo"
