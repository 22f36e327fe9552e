"""Communes as members type them: resolved with their territory first (homonyms), asked about otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.events import Choice
from bot.i18n import t
from storage.commune_match import Territory, match
from storage.communes import Commune, Resolution, communes

if TYPE_CHECKING:  # `relais commune` imports this module: no database layer for it
    from bot.context import Context

MAX_CANDIDATES = 6


@dataclass(frozen=True, slots=True)
class Preferences:
    insee: tuple[str, ...]
    departements: tuple[str, ...]


async def preferences(ctx: Context) -> Preferences:
    """The member's territory communes and their départements, used to settle homonyms."""
    from storage.territories import communes_of

    if ctx.member is None:
        return Preferences((), ())
    insee = tuple(await communes_of(ctx.session, ctx.member.territory_id))
    index = communes()
    departements = {c.departement for code in insee if (c := index.get(code))}
    return Preferences(insee, tuple(sorted(departements)))


async def territory(ctx: Context) -> Territory:
    """The member's territory as the matcher ranks by it (its communes, départements and centre)."""
    return _territory(await preferences(ctx))


def _territory(prefs: Preferences) -> Territory:
    return Territory.of([*prefs.insee, *prefs.departements]) if prefs.insee else Territory()


async def resolve(ctx: Context, text: str) -> Resolution:
    """A typed answer to « Dans quelle commune ? »: sure, to ask about (nearest the territory first), or none."""
    return match(text, await territory(ctx))


def which(resolution: Resolution) -> str:
    """The question over candidates: homonyms, close spellings (« Vouliez-vous dire … ? ») or a département."""
    if resolution.departement:
        return t("places.which_departement", code=resolution.departement)
    if resolution.fuzzy and len(resolution.candidates) == 1:
        return t("places.which_close_one", commune=resolution.candidates[0].label)
    return t("places.which_close" if resolution.fuzzy else "places.which_homonyms")


async def extract(ctx: Context, text: str) -> tuple[Resolution | None, str]:
    """A commune named in a sentence, and the sentence without it (see settled_near_home)."""
    prefs = await preferences(ctx)
    found, rest = communes().extract(text, prefer_departements=prefs.departements, prefer_insee=prefs.insee)
    return await settled_near_home(ctx, found, text, prefs), rest


async def settled_near_home(ctx: Context, found: Resolution | None, text: str,
                            prefs: Preferences | None = None) -> Resolution | None:
    """`found` in `text`, unless it is a name found only far from the member's territory, not written as that
    commune writes it, with a close spelling at home (« fougere » is Fougeré in Vendée, but a Fougères referent
    means Fougères): then the matcher's question, as at « Dans quelle commune ? ». A postal code is taken as said.
    The member's territory is read only in that case (partner searches are a hot path)."""
    far = found.commune if found is not None else None
    if far is None or far.name.lower() in text.lower() or any(code in text for code in far.postal_codes):
        return found
    prefs = prefs or await preferences(ctx)
    if not prefs.departements or far.departement in prefs.departements:
        return found
    home = match(far.name, _territory(prefs))
    return home if home.commune is None and home.candidates else found


def candidate_choices(resolution: Resolution) -> tuple[Choice, ...]:
    """« Romagne (33) », « Romagne (86) », « Romagné (35) » as buttons; the choice id is the INSEE code."""
    return tuple(Choice(c.insee, c.label) for c in resolution.candidates[:MAX_CANDIDATES])


def commune(insee: str | None) -> Commune | None:
    return communes().get(insee) if insee else None


def label(insee: str | None) -> str:
    found = commune(insee)
    return found.label if found else (insee or "?")
