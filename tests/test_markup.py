"""User text is shown as text: links and bold typed by someone never become real ones in another person's view."""

from __future__ import annotations

from bot.markup import literal, to_html, to_plain
from tests.test_telegram import Harness, fake, sqlite_only, tg  # noqa: F401  (fixtures used below)

TRAPS = ("[Cliquez ici](https://evil.example/phish)", "**URGENT**", "_important_", "a\\b", "x*", "]([", "<b>gras</b>")


def test_literal_text_renders_as_typed_everywhere() -> None:
    for trap in TRAPS:
        for template in ("{}", "**{}**", "_{}_", "Nom : {} !"):
            text = template.format(literal(trap))
            html = to_html(text)
            assert "<a " not in html and "<b>gras" not in html, (trap, template, html)
            assert trap in to_plain(text), (trap, template)
    assert to_html(f"**{literal('x*')}**") == "<b>x*</b>"
    assert to_html("**S-1** _ok_ [a](https://x.fr)") == '<b>S-1</b> <i>ok</i> <a href="https://x.fr">a</a>'


@sqlite_only
async def test_a_description_is_shown_as_text_to_the_coordinator(tg: Harness) -> None:  # noqa: F811
    referent, coordinator = tg.fake.user(6101, "Karim"), tg.fake.user(6102, "Claire")
    await tg.join(referent)
    await tg.join(coordinator, "coordinator")
    trap = "La CAF bloque, voir [ce lien](https://evil.example/phish) **TRÈS URGENT** _vite_"
    await tg.ask(referent, "/signaler", "Quel type de problème")
    await tg.press(referent, "Démarche en ligne", "Dans quelle commune")
    await tg.press(referent, "Romagné", "Que se passe-t-il")
    await tg.ask(referent, trap, "Quel public")
    await tg.press(referent, "Seniors", "Est-ce urgent")
    summary = await tg.press(referent, "Normal", "Votre signalement")
    await tg.press(referent, "Envoyer", "Merci")
    listing = await tg.ask(coordinator, "/signalements", "signalement")
    detail = await tg.press(coordinator, "Traiter", "CAF bloque")
    for message in (summary, listing, detail):
        assert "[ce lien](https://evil.example/phish) **TRÈS URGENT**" in message.plain_text, message.plain_text
        kinds = {(e["type"], message.plain_text[e["offset"]:e["offset"] + e["length"]]) for e in message.entities}
        assert not any(kind in ("text_link", "url") for kind, _ in kinds), kinds
        assert not any("URGENT" in covered or "lien" in covered for kind, covered in kinds if kind == "bold"), kinds


@sqlite_only
async def test_a_name_is_shown_as_text(tg: Harness) -> None:  # noqa: F811
    camille = tg.fake.user(6201, "Camille")
    await tg.join(camille)
    await tg.ask(camille, "/nom", "Quel nom")
    confirm = await tg.ask(camille, "**Admin** [support](https://evil.example)", "C'est bon ?")
    assert "**Admin** [support](https://evil.example)" in confirm.plain_text
    assert not any(e["type"] == "text_link" for e in confirm.entities)
