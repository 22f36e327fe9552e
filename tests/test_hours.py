"""Opening hours as people type them, read into OpenStreetMap syntax: a labelled corpus, its score printed."""

from __future__ import annotations

from handlers.partners.hours import read_hours, said

# (typed, expected OSM opening_hours; None: must be refused, not guessed)
CORPUS: list[tuple[str, str | None]] = [
    ("lu-ve 9h-12h, sa 10h-12h", "Mo-Fr 09:00-12:00; Sa 10:00-12:00"),
    ("du lundi au vendredi de 9h à 12h", "Mo-Fr 09:00-12:00"),
    ("lundi 14h-17h", "Mo 14:00-17:00"),
    ("sur rendez-vous", 'unknown "sur rendez-vous"'),
    ("9h-12h / 14h-17h du mardi au samedi", "Tu-Sa 09:00-12:00,14:00-17:00"),
    ("Du lundi au vendredi de 9h à 12h et de 14h à 17h", "Mo-Fr 09:00-12:00,14:00-17:00"),
    ("lun-ven 9h-12h, 14h-17h ; sam 9h-12h", "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00"),
    ("lundi au vendredi 8h30-12h", "Mo-Fr 08:30-12:00"),
    ("Lundi, mardi et jeudi de 14h à 17h", "Mo,Tu,Th 14:00-17:00"),
    ("mardi et jeudi 9h-12h", "Tu,Th 09:00-12:00"),
    ("mercredi 14h-18h", "We 14:00-18:00"),
    ("le mercredi de 14h à 18h", "We 14:00-18:00"),
    ("les mardis de 9h30 à 11h30", "Tu 09:30-11:30"),
    ("samedi matin 9h-12h", "Sa 09:00-12:00"),
    ("lundi après-midi 14h-17h", "Mo 14:00-17:00"),
    ("du mardi au samedi 10h-18h", "Tu-Sa 10:00-18:00"),
    ("mar-sam 10h-18h", "Tu-Sa 10:00-18:00"),
    ("Mardi-Samedi 10h-18h", "Tu-Sa 10:00-18:00"),
    ("tous les jours 8h-20h", "Mo-Su 08:00-20:00"),
    ("7j/7 de 8h à 20h", "Mo-Su 08:00-20:00"),
    ("en semaine de 9 à 12h", "Mo-Fr 09:00-12:00"),
    ("du lundi au vendredi de 9h00 à 12h00", "Mo-Fr 09:00-12:00"),
    ("lundi-vendredi 09:00-12:00", "Mo-Fr 09:00-12:00"),
    ("lu-ve 9h-12h 14h-17h", "Mo-Fr 09:00-12:00,14:00-17:00"),
    ("lu, ma, je, ve : 9h-12h", "Mo,Tu,Th,Fr 09:00-12:00"),
    ("du lundi au vendredi sauf le mercredi de 9h à 12h", "Mo,Tu,Th,Fr 09:00-12:00"),
    ("lundi au vendredi 9h-12h, fermé le dimanche", "Mo-Fr 09:00-12:00; Su off"),
    ("lundi 9h-12h, mercredi 14h-17h, vendredi 9h-12h", "Mo 09:00-12:00; We 14:00-17:00; Fr 09:00-12:00"),
    ("le jeudi de 14 h à 16 h 30", "Th 14:00-16:30"),
    ("jeudi de 14 heures à 17 heures", "Th 14:00-17:00"),
    ("vendredi de 9h à midi", "Fr 09:00-12:00"),
    ("du lundi au jeudi 8h30-12h30 et 13h30-17h, vendredi 8h30-12h",
     "Mo-Th 08:30-12:30,13:30-17:00; Fr 08:30-12:00"),
    ("mardi et jeudi de 14h à 17h sur rdv", 'Tu,Th 14:00-17:00 "sur rendez-vous"'),
    ("uniquement sur rendez-vous", 'unknown "sur rendez-vous"'),
    ("sur RDV", 'unknown "sur rendez-vous"'),
    ("lundi 14h-17h sur rendez-vous", 'Mo 14:00-17:00 "sur rendez-vous"'),
    ("Mo-Fr 09:00-12:00", "Mo-Fr 09:00-12:00"),
    ("Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00", "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00"),
    ("samedi 9h-12h, dimanche fermé", "Sa 09:00-12:00; Su off"),
    ("le samedi de 10h à 12h", "Sa 10:00-12:00"),
    ("du mercredi au samedi de 13h30 à 18h", "We-Sa 13:30-18:00"),
    ("lun. - ven. 9h-17h", "Mo-Fr 09:00-17:00"),
    ("mardi 9h-12h et jeudi 14h-17h", "Tu 09:00-12:00; Th 14:00-17:00"),
    ("week-end 10h-18h", "Sa,Su 10:00-18:00"),
    ("9h-17h du lundi au vendredi", "Mo-Fr 09:00-17:00"),
    ("lundi de 9h à 12h30 et de 13h30 à 17h", "Mo 09:00-12:30,13:30-17:00"),
    ("du lundi au vendredi de 8 h 30 à 12 h", "Mo-Fr 08:30-12:00"),
    # refused: nothing is guessed
    ("lundi matin", None),
    ("le matin", None),
    ("ça dépend des semaines", None),
    ("9h-12h", None),
    ("lundi 12h-9h", None),
    ("lundi 25h-26h", None),
    ("", None),
]


def test_typed_hours_corpus_reads_most_forms_and_refuses_the_rest() -> None:
    right = wrong = 0
    for typed, expected in CORPUS:
        found = read_hours(typed)
        got = found.osm if found else None
        if got == expected:
            right += 1
        else:
            wrong += 1
            print(f"  ✘ {typed!r}: {got!r}, expected {expected!r}")
    refused = sum(expected is None for _, expected in CORPUS)
    print(f"hours corpus: {right}/{len(CORPUS)} right ({len(CORPUS) - refused} forms to read, {refused} to refuse)")
    assert len(CORPUS) - refused >= 40
    assert right / len(CORPUS) >= 0.95
    for typed, expected in CORPUS:  # a refused form is never read as something else
        if expected is None:
            assert read_hours(typed) is None, typed


def test_what_was_understood_is_said_back_in_french() -> None:
    cases = {
        "lu-ve 9h-12h, sa 10h-12h": "du lundi au vendredi, 9 h – 12 h ; samedi 10 h – 12 h",
        "9h-12h / 14h-17h du mardi au samedi": "du mardi au samedi, 9 h – 12 h et 14 h – 17 h",
        "mardi et jeudi de 14h à 17h30 sur rdv": "mardi et jeudi 14 h – 17 h 30 (sur rendez-vous)",
        "sur rendez-vous": "sur rendez-vous",
        "samedi 9h-12h, dimanche fermé": "samedi 9 h – 12 h ; dimanche fermé",
    }
    for typed, expected in cases.items():
        found = read_hours(typed)
        assert found is not None and said(found) == expected, typed
