"""Field reports end to end: a referent reports, the right coordinator follows up, personal data never stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from bot.app import App
from bot.clock import FrozenClock
from handlers.reports.masking import mask
from storage.reports import Report
from tests.chat import Chat, FakeTransport
from tests.conftest import joined


async def _reports(app: App) -> list[Report]:
    async with app.sessions() as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def _report_by_buttons(chat: Chat, description: str = "Le site de la CAF refuse les connexions depuis lundi.",
                             commune: str = "Romagné") -> str:
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    await chat.pick(commune) if commune == "Romagné" else await chat.say(commune)
    await chat.say(description)
    await chat.pick("Seniors")
    summary = await chat.pick("Urgent")
    assert "Votre signalement" in summary[-1].text
    return (await chat.pick("Envoyer"))[0].text


async def test_report_then_coordinator_acknowledges_and_referent_is_notified(
    app: App, transport: FakeTransport
) -> None:
    referent = await joined(app, transport, "referent", "u-karim", territory="35-fougeres")
    coordinator = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres")
    elsewhere = await joined(app, transport, "coordinator", "u-maelle", territory="971-nord-gt")

    saved = await _report_by_buttons(referent)
    reference = saved.split("**")[1]
    assert reference.startswith("S-2026-")

    assert "Aucun signalement" in await elsewhere.text("/signalements")
    listing = await coordinator.say("/signalements")
    assert reference in listing[0].text and "urgent" in listing[0].text
    detail = await coordinator.pick(f"Traiter {reference}")
    assert "CAF refuse" in detail[0].text
    await coordinator.pick("Pris en compte")
    done = await coordinator.say("On relance la CAF cette semaine.")
    assert "prévenu" in done[0].text

    await app.outbox.run_once()
    notes = [r.text for r in transport.to("u-karim") if "pris en compte par la coordination" in r.text]
    assert len(notes) == 1 and reference in notes[0] and "relance la CAF" in notes[0]
    assert "pris en compte" in await referent.text("/mes_signalements")


async def test_a_referent_cannot_list_the_territory_reports(member_chat: Chat) -> None:
    assert "réservée aux coordinateurs" in await member_chat.text("/signalements")


async def test_personal_data_never_reaches_the_database(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-pii", territory="35-fougeres")
    pii = ("Mme Jeanne Dupont (06 12 34 56 78, jeanne.dupont@orange.fr, NIR 2 85 05 78 006 084 36, "
           "IBAN FR76 3000 6000 0112 3456 7890 189, née le 03/05/1941) ne peut pas se connecter")
    await referent.say("/signaler")
    await referent.pick("Démarche en ligne")
    await referent.pick("Romagné")
    told = await referent.say(pii)
    assert "masqué" in told[0].text and "téléphone" in told[0].text
    await referent.pick("Seniors")
    await referent.pick("Normal")
    await referent.pick("Envoyer")
    async with app.sessions() as session:
        rows = (await session.execute(text("select * from report"))).all()
        conversations = (await session.execute(text("select * from conversation"))).all()
    dump = repr(rows) + repr(conversations)
    assert rows
    for secret in ("Dupont", "Jeanne", "06 12 34 56 78", "orange.fr", "006 084", "3000 6000", "1941"):
        assert secret not in dump, secret


async def test_pressing_send_twice_creates_one_report(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-twice", territory="35-fougeres")
    await _report_by_buttons(referent)
    again = await referent.pick("Envoyer")
    assert "déjà pris en compte" in again[0].text
    assert len(await _reports(app)) == 1


async def test_one_shot_report_asks_only_what_is_missing(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-oneshot", territory="35-fougeres")
    first = await referent.say("/signaler les impôts en ligne bloquent les seniors à Fougères")
    assert "urgent" in first[-1].text.lower()  # theme, commune and public were said: only the urgency is asked
    summary = await referent.pick("Peut attendre")
    assert "Seniors" in summary[0].text
    assert "Démarche en ligne" in summary[0].text and "Fougères (35)" in summary[0].text
    await referent.pick("Envoyer")
    report = (await _reports(app))[0]
    assert (report.theme, report.commune_insee, report.urgency) == ("demarche", "35115", "low")


async def test_one_shot_report_naming_a_shared_commune_name_asks_which(app: App, transport: FakeTransport) -> None:
    antillais = await joined(app, transport, "referent", "u-971-oneshot", territory="971-nord-gt")
    asked = await antillais.say("/signaler la caf bloque les dossiers à Saint-Denis")
    assert "Laquelle" in asked[-1].text
    assert {"Saint-Denis (974)", "Saint-Denis (93)"} <= {c.label for c in asked[-1].choices}
    assert "public" in (await antillais.pick("Saint-Denis (974)"))[-1].text.lower()


async def test_a_name_in_a_sentence_spelt_like_a_far_commune_asks_when_a_home_one_is_close(
        app: App, transport: FakeTransport) -> None:
    """« fougere » typed without its accent and its s is exactly Fougeré (Vendée): a Fougères referent means
    Fougères. In a sentence the commune is asked about, as at « Dans quelle commune ? »; a postal code typed is
    taken as said."""
    referent = await joined(app, transport, "referent", "u-fougere", territory="35-fougeres")
    asked = await referent.say("/signaler la borne caf ne marche plus à fougere, les seniors sont bloqués")
    assert {"Fougères (35)", "Fougeré (85)"} <= {c.label for c in asked[-1].choices}
    assert [c.label for c in asked[-1].choices][0] == "Fougères (35)"
    await referent.say("/annuler")
    taken = await referent.say("/signaler la borne caf ne marche plus à fougere 85480, les seniors sont bloqués")
    assert "Fougeré (85)" not in {c.label for c in taken[-1].choices}
    await referent.say("/annuler")
    found = await referent.say("/partenaires sourd fougere")
    assert {"Fougères (35)", "Fougeré (85)"} <= {c.label for c in found[-1].choices}


async def test_homonyms_are_settled_by_territory_or_asked(app: App, transport: FakeTransport) -> None:
    breton = await joined(app, transport, "referent", "u-35", territory="35-fougeres")
    antillais = await joined(app, transport, "referent", "u-971", territory="971-nord-gt")
    for chat in (breton, antillais):
        await chat.say("/signaler")
        await chat.pick("Connexion")
    assert "Que se passe-t-il" in await breton.text("Romagne")
    asked = await antillais.say("Romagne")
    labels = [c.label for c in asked[0].choices]
    assert {"Romagne (33)", "Romagne (86)", "Romagné (35)"} <= set(labels)
    assert "Que se passe-t-il" in (await antillais.pick("Romagne (86)"))[0].text


async def test_edit_before_sending_and_limits(app: App, transport: FakeTransport) -> None:
    referent = await joined(app, transport, "referent", "u-edit", territory="35-fougeres")
    await referent.say("/signaler")
    await referent.pick("Équipement")
    await referent.say("35133")
    assert "trop long" in await referent.text("x" * 1200)
    await referent.say("Pas d'ordinateur au point d'accueil depuis la fermeture de l'EPN.")
    await referent.pick("Familles")
    await referent.pick("Normal")
    await referent.pick("Modifier")
    await referent.pick("La commune")
    summary = await referent.say("Vitré")
    assert "Vitré (35)" in summary[0].text
    await referent.pick("Envoyer")
    assert (await _reports(app))[0].commune_insee == "35360"


async def test_withdraw_within_24_hours_only(app: App, transport: FakeTransport, clock: FrozenClock) -> None:
    referent = await joined(app, transport, "referent", "u-withdraw", territory="35-fougeres")
    await _report_by_buttons(referent)
    reference = (await _reports(app))[0].reference
    await referent.say("/mes_signalements")
    await referent.pick(f"Voir {reference}")
    assert "retiré" in (await referent.pick(f"Retirer {reference}"))[0].text
    await _report_by_buttons(referent)
    clock.advance(timedelta(hours=25))
    await referent.say("/mes_signalements")
    opened = await referent.pick("Voir S-")
    assert [c.label for c in opened[0].choices] == ["Retour à mes signalements"]  # too late to withdraw


@pytest.mark.parametrize("raw, kinds, secret", [
    ("appelez le 06 12 34 56 78", ("phone",), "06 12 34 56 78"),
    ("ou le +33 6 12 34 56 78", ("phone",), "12 34 56"),
    ("fixe 02.99.12.34.56", ("phone",), "02.99"),
    ("NIR 1 85 05 78 006 084 36", ("nir",), "006 084"),
    ("sécu 185057800608436", ("nir",), "185057800608436"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189", ("iban",), "3000 6000"),
    ("IBAN DE89370400440532013000", ("iban",), "DE89370400440532013000"),
    ("écrire à marie.curie@laposte.net", ("email",), "laposte"),
    ("né le 4 mars 1950", ("birthdate",), "1950"),
    ("date de naissance 04/03/1950", ("birthdate",), "1950"),
    ("M. Martin est venu", ("name",), "Martin"),
    ("Madame Le Goff Anne", ("name",), "Goff"),
    ("habite 12 rue des Lilas", ("address",), "Lilas"),
])
def test_masking_of_realistic_french_personal_data(raw: str, kinds: tuple[str, ...], secret: str) -> None:
    masked = mask(raw, current_year=2026)
    assert masked.kinds == kinds
    assert secret not in masked.text


@pytest.mark.parametrize("harmless", ["le site de la CAF est en panne depuis le 12/03/2026",
                                      "300 dossiers bloqués, 15 personnes par jour",
                                      "Mail de la mairie indisponible"])
def test_masking_leaves_ordinary_facts_alone(harmless: str) -> None:
    assert mask(harmless, current_year=2026).text == harmless


@pytest.mark.parametrize("step", ["theme", "commune", "description", "public", "urgency", "confirm"])
def test_arbitrary_input_at_every_step_never_breaks(app: App, transport: FakeTransport, step: str,
                                                    run_async: Callable[[Any], Any]) -> None:
    """Any text, emoji, control characters or huge input at each step: a French reply, never half a report."""
    referent = run_async(joined(app, transport, "referent", f"u-fuzz-{step}", territory="35-fougeres"))
    script = ["/signaler", "1", "Romagné", "Le site de la CAF est en panne.", "1", "2"]
    steps = ["theme", "commune", "description", "public", "urgency", "confirm"]

    async def attempt(junk: str) -> None:
        await referent.say("/annuler")
        for message in script[: steps.index(step) + 1]:
            await referent.say(message)
        replies = await referent.say(junk)
        assert replies and all(r.text and "Traceback" not in r.text and "problème est survenu" not in r.text
                               for r in replies)

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.text(min_size=1, max_size=2000) | st.sampled_from(["\x00\x1b[2J", "😀" * 500, "‮ltr", " ", "2"]))
    def check(junk: str) -> None:
        run_async(attempt(junk))

    check()
    reports = run_async(_reports(app))
    assert all(r.reference.startswith("S-") and r.description and r.public and r.urgency for r in reports)
