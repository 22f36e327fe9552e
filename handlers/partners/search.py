"""/partenaires: places that help, by service and commune (homonyms settled), or around a shared position."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from bot import french
from bot.context import Context
from bot.events import Choice, ChoiceMade, LocationShared, Reply, TextReceived
from bot.i18n import t
from bot.router import Router, parse_command
from handlers import places
from handlers.partners.cards import card, tag_label
from handlers.partners.orientation import sheet_attachment, sheet_text
from handlers.partners.query import Asked, understand
from handlers.quoting import quoted
from storage.structures import MAX_KM, OpenFilter, Page, Search, by_id, find_partners
from storage.themes import themes

router = Router("partners")

PAGE = 5
FILTERS = ("theme", "open", "day", "tags")


def today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.tz).date()


@router.command("partenaires", help_key="partners.help_partenaires", example_key="partners.example_partenaires",
                order=20, aliases=("partenaire", "lieux", "trouver"))
async def start(event: TextReceived, ctx: Context) -> list[Reply]:
    _, text = parse_command(event.text) or ("", "")
    ctx.conversation.goto("partners.theme")
    if not text:
        return [ask_theme()]
    return await act(ctx, await understand(ctx, text, today(ctx)), fresh=True)


async def act(ctx: Context, asked: Asked, *, fresh: bool = False) -> list[Reply]:
    """Search once the place is known; otherwise ask for the commune (or which one)."""
    keep = {} if fresh else {k: ctx.conversation.data.get(k) for k in FILTERS}
    ctx.conversation.update(theme=asked.theme or keep.get("theme"), open=asked.open_now or bool(keep.get("open")),
                            day=asked.day.isoformat() if asked.day else keep.get("day"),
                            tags=list(dict.fromkeys([*(keep.get("tags") or []), *asked.tags])))
    if asked.place is not None and asked.place.commune is not None:
        return await around_commune(ctx, asked.place.commune.insee)
    if asked.place is not None and asked.place.candidates:
        ctx.conversation.goto("partners.commune")
        return [Reply(places.which(asked.place), choices=places.candidate_choices(asked.place))]
    if asked.unknown_place:
        return [Reply(t("partners.commune_unknown", text=quoted(asked.unknown_place))), await ask_commune(ctx)]
    if asked.empty and fresh:
        return [ask_theme()]
    return [await ask_commune(ctx)]


def ask_theme() -> Reply:
    choices = tuple(Choice(theme.id, theme.short) for theme in themes().services)
    return Reply(t("partners.ask_theme"), choices=(*choices, Choice("all", t("partners.all_services"))),
                 choices_per_row=2)


async def ask_commune(ctx: Context) -> Reply:
    """The member's usual commune and their network's first; any name, postal code or a position works."""
    ctx.conversation.goto("partners.commune")
    assert ctx.member is not None
    usual = [ctx.member.usual_commune] if ctx.member.usual_commune else []
    offered = list(dict.fromkeys([*usual, *(await places.preferences(ctx)).insee]))[:4]
    choices = tuple(Choice(insee, places.label(insee)) for insee in offered if places.commune(insee))
    return Reply(t("partners.ask_commune"), choices=choices, choices_per_row=2)


@router.choice("partners.theme")
async def chose_theme(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(theme=None if event.choice_id == "all" else event.choice_id)
    return [await ask_commune(ctx)]


@router.step("partners.theme")
@router.step("partners.commune")
@router.step("partners.results")
async def typed(event: TextReceived, ctx: Context) -> list[Reply]:
    """A typed commune, postal code or new query; the service asked before is kept unless a new one is typed."""
    return await act(ctx, await understand(ctx, event.text[:200], today(ctx)))


@router.choice("partners.commune")
async def chose_commune(event: ChoiceMade, ctx: Context) -> list[Reply]:
    return await around_commune(ctx, event.choice_id)


@router.location("")
@router.location("partners.theme")
@router.location("partners.commune")
@router.location("partners.results")
async def shared_location(event: LocationShared, ctx: Context) -> list[Reply]:
    """Around the shared position, with the service and filters of the search under way, if any."""
    if not ctx.conversation.step.startswith("partners."):
        ctx.conversation.end()
    ctx.conversation.goto("partners.results", insee=None, lat=event.lat, lon=event.lon, offset=0)
    return await show(ctx)


async def around_commune(ctx: Context, insee: str) -> list[Reply]:
    commune = places.commune(insee)
    if commune is None:
        return [await ask_commune(ctx)]
    assert ctx.member is not None
    ctx.member.usual_commune = insee
    known = commune.lat is not None and commune.lon is not None and math.isfinite(commune.lat + commune.lon)
    ctx.conversation.goto("partners.results", insee=insee, lat=commune.lat if known else None,
                          lon=commune.lon if known else None, offset=0)
    return await show(ctx)


def search_of(ctx: Context, data: dict[str, Any]) -> Search:
    day = date.fromisoformat(data["day"]) if data.get("day") else None
    when = OpenFilter(ctx.tz, at=ctx.now) if data.get("open") else OpenFilter(ctx.tz, day=day) if day else None
    return Search(data.get("lat"), data.get("lon"), data.get("insee"), data.get("theme"), when,
                  tuple(data.get("tags") or ()))


async def show(ctx: Context) -> list[Reply]:
    """The current page; with nothing found, says so and shows the nearest places without the filters."""
    data = ctx.conversation.data
    page = await find_partners(ctx.session, search_of(ctx, data), offset=data.get("offset", 0), limit=PAGE)
    if page.hits:
        return [results(ctx, page, header(ctx, data, len(page.hits)))]
    if page.offset:
        return [Reply(t("partners.no_more"), choices=(Choice("new", t("partners.new_search")),))]
    if any(data.get(k) for k in FILTERS):
        note = t("partners.none_filtered", what=describe(ctx, data), km=int(MAX_KM))
        ctx.conversation.update(theme=None, open=False, day=None, tags=[])
        page = await find_partners(ctx.session, search_of(ctx, ctx.conversation.data), limit=PAGE)
        if page.hits:
            return [results(ctx, page, note)]
    ctx.conversation.end()
    return [Reply(t("partners.none_at_all", km=int(MAX_KM)))]


def results(ctx: Context, page: Page, title: str) -> Reply:
    """The cards, then one « Fiche n » choice per place (its orientation card), next page, new search. Cards are
    numbered from 1 on every page, like the choices: a typed « 2 » is always the second place shown."""
    numbered = list(enumerate(page.hits, start=1))
    cards = [card(number, hit, ctx.now, ctx.tz) for number, hit in numbered]
    sheets = tuple(Choice(f"sheet:{hit.structure.id}", t("partners.sheet_choice", number=number))
                   for number, hit in numbered)
    more = (Choice("more", t("partners.next_page")),) if page.has_more else ()
    return Reply("\n\n".join([title, *cards, t("partners.sheet_offer")]),
                 choices=(*sheets, *more, Choice("new", t("partners.new_search"))), choices_per_row=5)


def describe(ctx: Context, data: dict[str, Any]) -> str:
    """« Démarches administratives, ouverts samedi »."""
    theme = themes().service(data["theme"]) if data.get("theme") else None
    parts = [theme.short if theme else t("partners.header_all")]
    if data.get("open"):
        parts.append(t("partners.open_now_filter"))
    elif data.get("day"):
        parts.append(t("partners.open_day_filter", day=day_name(ctx, date.fromisoformat(data["day"]))))
    parts += [tag_label(tag) for tag in data.get("tags") or ()]
    return ", ".join(parts)


def day_name(ctx: Context, day: date) -> str:
    if day == today(ctx):
        return t("partners.today")
    if day == today(ctx) + timedelta(days=1):
        return t("partners.tomorrow")
    return t("partners.day_names").split("|")[day.weekday()]


def header(ctx: Context, data: dict[str, Any], shown: int) -> str:
    offset = data.get("offset", 0)
    if offset:
        return t("partners.header_more", first=offset + 1, last=offset + shown)
    if data.get("insee"):
        return t("partners.header_commune", what=describe(ctx, data), place=french.at(places.label(data["insee"])))
    return t("partners.header_point", what=describe(ctx, data))


@router.choice("partners.results")
async def next_page(event: ChoiceMade, ctx: Context) -> list[Reply]:
    if event.choice_id.startswith("sheet:"):
        return await sheet(ctx, event.choice_id.removeprefix("sheet:"))
    if event.choice_id == "new":
        ctx.conversation.end()
        ctx.conversation.goto("partners.theme")
        return [ask_theme()]
    ctx.conversation.update(offset=ctx.conversation.data.get("offset", 0) + PAGE)
    return await show(ctx)


async def sheet(ctx: Context, structure_id: str) -> list[Reply]:
    """The orientation card of one result, as text with its PNG attached; the results stay answerable."""
    structure = await by_id(ctx.session, int(structure_id)) if structure_id.isdigit() else None
    if structure is None or structure.hidden:
        return [Reply(t("partners.sheet_gone"))]
    return [Reply(sheet_text(structure), attachment=sheet_attachment(structure))]
