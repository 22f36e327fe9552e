"""Communes as members type them: resolved with their territory first (homonyms), asked about otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from bot.context import Context
from bot.events import Choice
from storage.communes import Commune, Resolution, communes
from storage.territories import communes_of

MAX_CANDIDATES = 6


@dataclass(frozen=True, slots=True)
class Preferences:
    insee: tuple[str, ...]
    departements: tuple[str, ...]


async def preferences(ctx: Context) -> Preferences:
    """The member's territory communes and their départements, used to settle homonyms."""
    if ctx.member is None:
        return Preferences((), ())
    insee = tuple(await communes_of(ctx.session, ctx.member.territory_id))
    index = communes()
    departements = {c.departement for code in insee if (c := index.get(code))}
    return Preferences(insee, tuple(sorted(departements)))


async def resolve(ctx: Context, text: str) -> Resolution:
    prefs = await preferences(ctx)
    return communes().resolve(text, prefer_departements=prefs.departements, prefer_insee=prefs.insee)


async def extract(ctx: Context, text: str) -> tuple[Resolution | None, str]:
    prefs = await preferences(ctx)
    return communes().extract(text, prefer_departements=prefs.departements, prefer_insee=prefs.insee)


def candidate_choices(resolution: Resolution) -> tuple[Choice, ...]:
    """« Romagne (33) », « Romagne (86) », « Romagné (35) » as buttons; the choice id is the INSEE code."""
    return tuple(Choice(c.insee, c.label) for c in resolution.candidates[:MAX_CANDIDATES])


def commune(insee: str | None) -> Commune | None:
    return communes().get(insee) if insee else None


def label(insee: str | None) -> str:
    found = commune(insee)
    return found.label if found else (insee or "?")
