"""French of places: « au Moule », « aux Abymes », « d'Ille-et-Vilaine », « en Guadeloupe », « du Réseau du Pays de
Fougères ». Pure functions on names as displayed; no knowledge of any feature."""

from __future__ import annotations

_VOWELS = tuple("AEIOUYÂÉÈÊÎÏÔÛH")  # « d'Hérouville », « à l'Haÿ » : h muet, the common case for place names
# Départements and régions said « dans le/l' … » rather than « en … » (masculine), and islands said « à … ».
_MASCULINE = frozenset({"Ain", "Allier", "Aveyron", "Hérault", "Finistère", "Rhône", "Vaucluse", "Calvados", "Cantal",
                        "Cher", "Doubs", "Gard", "Gers", "Jura", "Lot", "Loiret", "Morbihan", "Nord", "Tarn", "Var",
                        "Val-d'Oise", "Val-de-Marne", "Pas-de-Calais", "Puy-de-Dôme", "Territoire de Belfort",
                        "Grand Est", "Centre-Val de Loire"})
_ISLANDS = frozenset({"Mayotte", "La Réunion", "Réunion"})
# Territory names that begin with a common noun take its article: « du Réseau du Pays de Fougères ».
_NOUNS = {"réseau": "du", "pays": "du", "département": "du", "conseil": "du", "territoire": "du", "collectif": "du",
          "communauté": "de la", "métropole": "de la", "région": "de la", "ville": "de la", "coordination": "de la",
          "agglomération": "de l'", "intercommunalité": "de l'", "association": "de l'"}


def _split(name: str) -> tuple[str, str]:
    """(article, rest): « Le Moule » -> (« le », « Moule »), « L'Étang-Salé » -> (« l' », « Étang-Salé »)."""
    for article in ("Le ", "La ", "Les ", "L'", "L’"):
        if name.startswith(article) and len(name) > len(article):
            return article.strip().lower().replace("’", "'"), name[len(article):]
    return "", name


def at(name: str) -> str:
    """« à Rennes », « au Moule », « aux Abymes », « à La Possession », « à L'Étang-Salé »."""
    article, rest = _split(name)
    if article == "le":
        return f"au {rest}"
    if article == "les":
        return f"aux {rest}"
    return f"à {name}"


def of(name: str) -> str:
    """« de Rennes », « d'Ille-et-Vilaine », « du Moule », « des Abymes », « de La Possession », « du Réseau du Pays
    de Fougères »."""
    article, rest = _split(name)
    noun = _NOUNS.get(name.split(" ", 1)[0].casefold())
    if noun:
        return f"{noun}{'' if noun.endswith(chr(39)) else ' '}{name}"
    if article == "le":
        return f"du {rest}"
    if article == "les":
        return f"des {rest}"
    return f"d'{name}" if not article and name.startswith(_VOWELS) else f"de {name}"


def in_area(name: str) -> str:
    """For a département or région: « en Guadeloupe », « en Ille-et-Vilaine », « dans le Morbihan », « dans l'Ain »,
    « à La Réunion »; a name with its own article keeps it (« dans les Côtes-d'Armor » from « Les Côtes-d'Armor »)."""
    article, rest = _split(name)
    if name in _ISLANDS:
        return f"à {name if article else 'La ' + name if name == 'Réunion' else name}"
    if article:
        return {"le": f"dans le {rest}", "les": f"dans les {rest}", "l'": f"dans l'{rest}"}.get(article, f"en {rest}")
    if name in _MASCULINE:
        return f"dans l'{name}" if name.startswith(_VOWELS) else f"dans le {name}"
    return f"en {name}"


def of_network(name: str) -> str:
    """« du réseau Fougères Agglo », but « du Réseau du Pays de Fougères » (never « du réseau Réseau … »)."""
    return of(name) if name.split(" ", 1)[0].casefold() in _NOUNS else f"du réseau {name}"
