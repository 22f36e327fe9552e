"""/partenaires through the fake transport: themes and communes, homonyms, paging, position, hours, fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.events import Reply
from storage.structure_import import import_demo, import_file
from storage.structures import Structure
from tests.chat import Chat, FakeTransport
from tests.conftest import joined


@pytest.fixture
async def demo(app: App) -> App:
    """The demo network with its ~25 demo structures (storage/reference/demo_structures.csv)."""
    async with app.sessions() as session, session.begin():
        await import_demo(session, app.clock.now())
    return app


async def guadeloupe(app: App, transport: FakeTransport, user: str = "u-971") -> Chat:
    return await joined(app, transport, "referent", user, territory="971-nord-gt", name="Joël")


def names(reply: Reply) -> list[str]:
    """Result names in order, from the « **1. Name** » card titles."""
    return [line.split(". ", 1)[1].rstrip("*") for line in reply.text.splitlines()
            if line.startswith("**") and line[2:3].isdigit()]


def labels(reply: Reply) -> list[str]:
    return [choice.label for choice in reply.choices]


async def test_theme_and_commune_lists_the_commune_first_then_by_distance(demo: App, member_chat: Chat) -> None:
    reply = (await member_chat.say("/partenaires démarches Romagné"))[-1]
    assert reply.text.startswith("**Démarches administratives** à Romagné (35)")
    found = names(reply)
    assert found[:2] == ["Point numérique de la mairie de Romagné", "Romagné Connecté"]
    assert "France Services du Pays de Fougères" in found[2:]
    assert "Médiathèque L'Écume des mots" not in found  # no help with procedures there
    assert "· Fougères · à 5," in reply.text and "Tél. 02 99 00 11 02" in reply.text
    assert "https://www.openstreetmap.org/?mlat=48.34200&mlon=-1.27540#map=17/48.34200/-1.27540" in reply.text
    assert "Horaires : lun.-ven. 9h-12h" in reply.text and "Services : Démarches administratives" in reply.text
    for typed in ("aide CAF romagnee", "démarches à Romagne", "papiers ROMAGNÉ", "demarches 35133"):
        assert names((await member_chat.say(f"/partenaires {typed}"))[-1])[:2] == found[:2], typed
    compound = (await member_chat.say("/partenaires démarches saint-aubin-du-cormeir"))[-1]
    assert "à Saint-Aubin-du-Cormier (35)" in compound.text


async def test_homonyms_follow_the_member_territory_or_are_asked(demo: App, member_chat: Chat,
                                                                  transport: FakeTransport) -> None:
    local = (await member_chat.say("/partenaires Romagne"))[-1]
    assert "à Romagné (35)" in local.text and names(local)[0].endswith("Romagné")
    elsewhere = await guadeloupe(demo, transport)
    asked = (await elsewhere.say("/partenaires démarches romagne"))[-1]
    assert "Laquelle" in asked.text
    assert set(labels(asked)) == {"Romagne (33)", "Romagne (86)", "Romagné (35)"}
    chosen = (await elsewhere.pick("Romagne (86)"))[-1]
    assert "à Romagne (86)" in chosen.text
    assert names(chosen)[0] == "Espace numérique de la mairie de Romagne"


async def test_le_moule_finds_guadeloupe_places_and_typos_are_forgiven(demo: App, transport: FakeTransport) -> None:
    chat = await guadeloupe(demo, transport)
    reply = (await chat.say("/partenaires wifi le moule"))[-1]
    assert reply.text.startswith("**Accès internet et matériel** au Moule (971)")
    found = names(reply)
    assert found[0] == "Médiathèque du Moule"
    assert {"Cyberbase des Abymes", "CCAS des Abymes – point numérique"} <= set(found)
    typo = (await chat.say("/partenaires ordinateur le mouel"))[-1]
    assert "au Moule (971)" in typo.text
    postal = (await chat.say("/partenaires ordinateur 97160"))[-1]
    assert "**Outils numériques du quotidien** au Moule (971)" in postal.text


async def test_pages_of_five_with_next(demo: App, member_chat: Chat) -> None:
    first = (await member_chat.say("/partenaires Fougères"))[-1]
    assert len(names(first)) == 5 and "Suivants" in labels(first)
    second = (await member_chat.pick("Suivants"))[-1]
    assert second.text.startswith("Suite (6 à 10)")
    assert not set(names(first)) & set(names(second))
    assert "**1. " in second.text and "**6. " not in second.text  # numbered like its choices: « 2 » is the 2nd
    sheet = await member_chat.say("2")  # typed: the second place of this page, not « Suivants »
    assert names(second)[1] in "\n".join(r.text for r in sheet)


async def test_numbers_refer_to_the_list_shown_last(demo: App, member_chat: Chat) -> None:
    results = (await member_chat.say("/partenaires Fougères"))[-1]
    assert names(results)[2] in "\n".join(r.text for r in await member_chat.say("3"))  # « 3 »: the 3rd place
    await member_chat.say("/partenaires Fougères")
    confused = await member_chat.say("zorglub")  # read as a place: not found, « Où ? » with its own list
    assert "Je ne trouve pas" in confused[0].text and labels(confused[-1])[2] == "Vitré (35)"
    picked = (await member_chat.say("3"))[-1]  # the list shown last, even after the error
    assert "à Vitré (35)" in picked.text


async def test_nothing_then_a_theme_then_a_commune(demo: App, member_chat: Chat) -> None:
    asked = (await member_chat.say("/partenaires"))[-1]
    assert "Quel type d'aide" in asked.text and "Tous les services" in labels(asked)
    where = (await member_chat.pick("Matériel à prix solidaire"))[-1]
    assert "Où ?" in where.text and {"Fougères (35)", "Romagné (35)", "Vitré (35)"} <= set(labels(where))
    reply = (await member_chat.pick("Fougères (35)"))[-1]
    assert names(reply)[0] == "CCAS de Fougères – accueil numérique"
    assert "Recyclerie numérique du Couesnon" in names(reply)


async def test_shared_position_searches_around_it(demo: App, member_chat: Chat) -> None:
    await member_chat.say("/partenaires démarches")
    reply = (await member_chat.share_location(48.1245, -1.2150))[-1]  # in Vitré
    assert reply.text.startswith("**Démarches administratives** autour de votre position")
    assert names(reply)[0] == "France Services Vitré Communauté"
    await member_chat.say("/annuler")
    anywhere = (await member_chat.share_location(16.2728, -61.5024))[-1]  # Les Abymes, no search under way
    assert anywhere.text.startswith("**Tous les lieux** autour de votre position")
    assert names(anywhere)[0] == "Cyberbase des Abymes"


async def test_open_now_and_a_day_filter_on_known_hours(demo: App, member_chat: Chat,
                                                        transport: FakeTransport) -> None:
    # 2026-03-10 08:00 UTC: Tuesday 09:00 in Ille-et-Vilaine, 04:00 in Guadeloupe.
    now = (await member_chat.say("/partenaires Romagné ouvert maintenant"))[-1]
    assert names(now)[0] == "Point numérique de la mairie de Romagné" and "ouvert en ce moment" in now.text
    assert "Médiathèque L'Écume des mots" not in names(now) and "Romagné Connecté" not in names(now)
    saturday = (await member_chat.say("/partenaires Vitré samedi"))[-1]
    assert "ouverts samedi" in saturday.text
    assert "Centre social de Vitré" not in names(saturday)
    assert {"France Services Vitré Communauté", "Médiathèque de Vitré"} <= set(names(saturday))
    night = await (await guadeloupe(demo, transport)).say("/partenaires le moule ouvert maintenant")
    assert "aucun lieu pour « Tous les lieux, ouverts maintenant »" in night[-1].text
    assert names(night[-1])[0] == "CCAS du Moule"


async def test_nothing_found_offers_the_nearest_without_the_filter(demo: App, member_chat: Chat) -> None:
    reply = (await member_chat.say("/partenaires reconditionné Saint-Denis 974"))[-1]
    assert "aucun lieu pour « Matériel à prix solidaire »" in reply.text
    assert names(reply) == ["France Services Saint-Denis Centre"]
    unknown = await member_chat.say("/partenaires wifi Zorglubville")
    assert "Je ne trouve pas la commune « Zorglubville »" in unknown[0].text


async def test_a_coordinator_corrects_and_adds_places(demo: App, transport: FakeTransport,
                                                      member_chat: Chat) -> None:
    coordinator = await joined(demo, transport, "coordinator", "u-coord", territory="35-fougeres", name="Claire")
    found = (await coordinator.say("/ajouter_partenaire médiathèque vitré"))[-1]
    assert "Corriger : Médiathèque de Vitré (Vitré)" in labels(found)
    await coordinator.pick("Corriger : Médiathèque de Vitré")
    await coordinator.pick("Modifier")
    await coordinator.pick("Les horaires")
    said, summary = await coordinator.say("mar-sam 10h-18h")  # what was understood, then the summary again
    assert "Horaires compris : du mardi au samedi, 10 h – 18 h." in said.text
    assert "Horaires : mar.-sam. 10h-18h" in summary.text
    assert "C'est enregistré" in (await coordinator.pick("Enregistrer"))[-1].text
    await coordinator.say("/ajouter_partenaire Espace numérique des Rochers")
    for step in ("Vitré", "3 rue des Rochers"):
        await coordinator.say(step)
    await coordinator.pick("Passer")
    await coordinator.pick("Sécurité en ligne")
    await coordinator.pick("Terminé")
    await coordinator.say("lundi au vendredi de 9h à 12h")
    assert "C'est enregistré" in (await coordinator.pick("Enregistrer"))[-1].text
    async with demo.sessions() as session:
        rows = {s.name: s for s in (await session.execute(select(Structure).where(Structure.local))).scalars()}
    assert rows["Médiathèque de Vitré"].hours == "Tu-Sa 10:00-18:00"
    assert rows["Espace numérique des Rochers"].hours == "Mo-Fr 09:00-12:00"
    assert rows["Espace numérique des Rochers"].services == "|securite|"
    reply = (await member_chat.say("/partenaires sécurité Vitré"))[-1]
    assert "Espace numérique des Rochers" in names(reply)
    assert "réservée aux coordinateurs" in (await member_chat.say("/ajouter_partenaire"))[0].text


FIXTURES = Path(__file__).parent / "fixtures"


async def imported(app: App, name: str) -> None:
    async with app.sessions() as session, session.begin():
        await import_file(session, FIXTURES / name, app.clock.now())


async def test_the_standards_reims_example_is_in_reims_under_its_type_labels(app: App,
                                                                            member_chat: Chat) -> None:
    await imported(app, "lmn_exemple_reims.csv")
    reply = (await member_chat.say("/partenaires Reims"))[-1]
    assert names(reply) == ["Anonymal"]
    assert "Tiers-lieu · Association · Reims · adresse non localisée précisément" in reply.text
    assert "646" not in reply.text and "TIERS_LIEUX" not in reply.text
    assert "Tél. 01 80 05 98 80" in reply.text
    assert "Accueil : sourds et malentendants · illettrisme (FALC) · en anglais · gratuit sous condition" in reply.text


async def test_open_now_is_the_places_own_time_not_the_readers(demo: App, transport: FakeTransport,
                                                                clock: FrozenClock) -> None:
    clock.set(datetime(2026, 3, 10, 16, 23, tzinfo=UTC))  # 17:23 in Fougères (closed at 17:00), 12:23 in Guadeloupe
    chat = await guadeloupe(demo, transport)
    reply = (await chat.say("/partenaires démarches Fougères"))[-1]
    card = next(c for c in reply.text.split("\n\n") if "France Services du Pays de Fougères" in c)
    assert "fermé en ce moment" in card
    now = (await chat.say("/partenaires Fougères ouvert maintenant"))[-1]
    assert "France Services du Pays de Fougères" not in names(now)


async def test_filters_a_mediator_types(demo: App, member_chat: Chat) -> None:
    await imported(demo, "lmn_filters_fougeres.csv")
    cases = {
        "sourd": {"Espace numérique des Sourds"}, "malentendant": {"Espace numérique des Sourds"},
        "langue des signes": {"Espace numérique des Sourds"}, "malvoyant": {"Espace numérique des Sourds"},
        "anglais": {"Welcome Desk Fougères"}, "fauteuil": {"Welcome Desk Fougères"},
        "pmr": {"Welcome Desk Fougères"}, "payant": {"Welcome Desk Fougères"},
        "arabe": {"Médiation plurilingue"}, "illettrisme": {"Médiation plurilingue"},
        "FALC": {"Médiation plurilingue"}, "personnes âgées": {"Médiation plurilingue"},
        "jeunes": {"Atelier jeunes connectés"},
    }
    for words, expected in cases.items():
        reply = (await member_chat.say(f"/partenaires {words} Fougères"))[-1]
        assert set(names(reply)) == expected, words
    free = (await member_chat.say("/partenaires gratuit sans rdv Fougères"))[-1]
    assert "gratuit, sans rendez-vous** à Fougères (35)" in free.text
    assert "Espace numérique des Sourds" in names(free) and "Welcome Desk Fougères" not in names(free)
    assert "Médiation plurilingue" not in names(free) and "Atelier jeunes connectés" not in names(free)
    booked = (await member_chat.say("/partenaires sur rendez-vous Fougères"))[-1]
    assert "sur rendez-vous** à Fougères" in booked.text and "Welcome Desk Fougères" in names(booked)
    assert "Atelier jeunes connectés" not in names(booked)  # « Se présenter » only
    both = (await member_chat.say("/partenaires démarches sourd Fougères"))[-1]
    assert both.text.startswith("**Démarches administratives, sourds et malentendants** à Fougères (35)")
    assert "Accueil : sourds et malentendants · déficience visuelle · gratuit · sans rendez-vous" in both.text
    none = (await member_chat.say("/partenaires loisirs anglais Fougères"))[-1]
    assert "aucun lieu pour « Loisirs et création, en anglais »" in none.text


async def test_an_orientation_card_from_any_result(demo: App, member_chat: Chat) -> None:
    await imported(demo, "lmn_filters_fougeres.csv")
    results = (await member_chat.say("/partenaires anglais Fougères"))[-1]
    assert labels(results)[0] == "Fiche 1"
    sheet = (await member_chat.pick("Fiche 1"))[-1]
    assert sheet.text.startswith("**Fiche d'orientation**\n**Welcome Desk Fougères**")
    assert "Adresse : 4 rue B, 35300 Fougères" in sheet.text and "Téléphone : 02 99 00 31 02" in sheet.text
    assert "Rendez-vous en ligne : https://rdv.example.org/f2" in sheet.text
    assert "Plan : https://www.openstreetmap.org/?mlat=48.35200&mlon=-1.19800" in sheet.text
    assert "Joël" not in sheet.text and "Claire" not in sheet.text  # nothing about the people
    assert sheet.attachment is not None and sheet.attachment.mime == "image/png"
    assert sheet.attachment.data.startswith(b"\x89PNG") and sheet.attachment.name == "fiche-welcome-desk-fougeres.png"
    again = (await member_chat.say("/partenaires Romagné"))[-1]
    second = (await member_chat.pick("Fiche 2"))[-1]
    assert f"**{names(again)[1]}**" in second.text and "Horaires : " in second.text


async def test_a_coordinator_hides_a_place_of_their_territory_only(demo: App, transport: FakeTransport,
                                                                  member_chat: Chat) -> None:
    coordinator = await joined(demo, transport, "coordinator", "u-coord", territory="35-fougeres", name="Claire")
    asked = (await coordinator.say("/masquer_partenaire romagné connecté"))[-1]
    assert labels(asked) == ["Masquer : Romagné Connecté (Romagné)"]
    assert "n'apparaît plus" in (await coordinator.pick("Masquer : Romagné Connecté (Romagné)"))[-1].text
    assert "Romagné Connecté" not in names((await member_chat.say("/partenaires démarches Romagné"))[-1])
    other = await joined(demo, transport, "coordinator", "u-coord-971", territory="971-nord-gt", name="Maëlle")
    assert "Aucun lieu de votre territoire" in (await other.say("/masquer_partenaire romagné connecté"))[-1].text
    assert "réservée aux coordinateurs" in (await member_chat.say("/masquer_partenaire Romagné"))[0].text
    back = (await coordinator.say("/masquer_partenaire romagné connecté"))[-1]
    await coordinator.pick("Réafficher : Romagné Connecté (Romagné)")
    assert "Romagné Connecté" in names((await member_chat.say("/partenaires démarches Romagné"))[-1])
    assert labels(back) == ["Réafficher : Romagné Connecté (Romagné)"]
