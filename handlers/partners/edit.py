"""/ajouter_partenaire: a coordinator adds or corrects a place; it is then maintained locally, never overwritten."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.events import Choice, Reply
from bot.form import Field, Form, Parsed, Read, question
from bot.i18n import t
from bot.markup import literal
from bot.router import COORDINATORS, CommandCall, Router
from handlers import places
from handlers.partners.cards import hours_text
from handlers.partners.hours import read_hours, said
from handlers.quoting import quoted
from storage import audit
from storage.structures import Structure, by_id, named_like, pack, save_local
from storage.themes import guess, themes

router = Router("partner_edit")

LIMITS = {"name": 200, "address": 300, "phone": 40, "hours": 300}
async def read_name(text: str, ctx: Context) -> Parsed:
    """The name; offers to correct places of the network with a similar name (the same name for a new place
    is answered by « Non, c'est un nouveau lieu »)."""
    name = " ".join(text.split())
    if not name:
        return Parsed.again(t("partners.edit_ask_name"))
    if len(name) > LIMITS["name"]:
        return Parsed.again(t("partners.edit_too_long", length=len(name), limit=LIMITS["name"]))
    found = await named_like(ctx.session, name, (await places.preferences(ctx)).insee)
    if not found:
        return Parsed.ok(name)
    choices = [Choice(str(s.id), t("partners.edit_correct", name=s.name, commune=s.commune)) for s in found]
    return Parsed.again(t("partners.edit_found"), (*choices, Choice("new", t("partners.edit_new"))), typed=name)


async def pick_name(choice_id: str, ctx: Context) -> Parsed:
    """« Corriger : … » loads that place's values; « nouveau lieu » keeps the name typed."""
    if choice_id == "new":
        return Parsed.ok(ctx.conversation.data.get("typed", ""))
    existing = await by_id(ctx.session, int(choice_id)) if choice_id.isdigit() else None
    if existing is None:
        return Parsed()
    values = current_values(existing)
    return Parsed.ok(values.pop("name"), picked=values["services"], **values)


def current_values(structure: Structure) -> dict[str, Any]:
    return {"edit_id": structure.id, "name": structure.name, "commune": structure.insee,
            "address": structure.address, "phone": structure.phone or None, "services": list(structure.service_ids),
            "hours": structure.hours or None}


async def read_commune(text: str, ctx: Context) -> Parsed:
    resolution = await places.resolve(ctx, text[:100])
    if resolution.commune is not None:
        return Parsed.ok(resolution.commune.insee)
    if resolution.candidates:
        return Parsed.again(places.which(resolution), places.candidate_choices(resolution))
    return Parsed.again(t("partners.commune_unknown", text=quoted(text)))


def read_text(field: str) -> Read:
    async def read(text: str, _ctx: Context) -> Parsed:
        value = " ".join(text.split())
        if len(value) > LIMITS[field]:
            return Parsed.again(t("partners.edit_too_long", length=len(value), limit=LIMITS[field]))
        return Parsed.ok(value)
    return read


async def read_typed_hours(text: str, _ctx: Context) -> Parsed:
    """Hours as typed (handlers/partners/hours.py), said back as understood; « Modifier » on the summary corrects."""
    hours = read_hours(text[:LIMITS["hours"]])
    if hours is None:
        return Parsed.again(t("partners.edit_hours_unknown"))
    return Parsed(hours.osm, Reply(t("partners.edit_hours_said", hours=said(hours))))


async def ask_services(ctx: Context) -> Reply:
    return services_prompt(ctx, t("partners.edit_ask_services"))


def services_prompt(ctx: Context, text: str) -> Reply:
    """One button per service, ticked when chosen, and « Terminé »."""
    chosen = set(ctx.conversation.data.get("picked", []))
    choices = tuple(Choice(s.id, ("✓ " if s.id in chosen else "") + s.short) for s in themes().services)
    return Reply(text, choices=(*choices, Choice("done", t("partners.edit_services_done"))), choices_per_row=2)


async def pick_service(choice_id: str, ctx: Context) -> Parsed:
    picked = list(ctx.conversation.data.get("picked", []))
    if choice_id == "done":
        return Parsed.ok(picked) if picked else Parsed(reply=services_prompt(ctx, t("partners.edit_services_none")))
    picked = [p for p in picked if p != choice_id] if choice_id in picked else [*picked, choice_id]
    ctx.conversation.update(picked=picked)
    return Parsed(reply=services_prompt(ctx, t("partners.edit_ask_services")))


async def read_service(text: str, ctx: Context) -> Parsed:
    theme = guess(text, themes().services)
    if theme is not None:
        ctx.conversation.update(picked=list(dict.fromkeys([*ctx.conversation.data.get("picked", []), theme.id])))
    return Parsed(reply=services_prompt(ctx, t("partners.edit_ask_services")))


FIELDS = (
    Field("name", t("partners.field_name"), question(t("partners.edit_ask_name")), read=read_name, pick=pick_name),
    Field("commune", t("partners.field_commune"), question(t("partners.edit_ask_commune")), read=read_commune),
    Field("address", t("partners.field_address"), question(t("partners.edit_ask_address")),
          read=read_text("address")),
    Field("phone", t("partners.field_phone"), question(t("partners.edit_ask_phone")), read=read_text("phone"),
          optional=True),
    Field("services", t("partners.field_services"), ask_services, read=read_service, pick=pick_service),
    Field("hours", t("partners.field_hours"), question(t("partners.edit_ask_hours")), read=read_typed_hours,
          optional=True),
)


async def summary(_ctx: Context, data: dict[str, Any]) -> str:
    none = t("partners.edit_none")
    labels = [s.short for theme_id in data["services"] if (s := themes().service(theme_id))]
    return t("partners.edit_summary", name=literal(data["name"]), commune=places.label(data["commune"]),
             address=data["address"] or none, phone=data["phone"] or none, services=", ".join(labels),
             hours=hours_text(data["hours"]) if data["hours"] else none)


async def save(ctx: Context, data: dict[str, Any], _key: str) -> list[Reply]:
    assert ctx.member is not None
    existing = await by_id(ctx.session, data["edit_id"]) if data.get("edit_id") else None
    row = await save_local(ctx.session, values(data, existing), ctx.now, existing)
    await audit.record(ctx.session, now=ctx.now, action="structure.saved", actor_id=ctx.member.id,
                       target=f"{row.source}:{row.source_id}")
    return [Reply(t("partners.edit_saved", name=literal(row.name), commune=places.label(row.insee)))]


FORM = Form("partner_edit", FIELDS, summary=summary, submit=save, confirm_label=t("partners.edit_save"),
            cancelled=t("partners.edit_cancelled"))
FORM.register(router)


@router.command("ajouter_partenaire", roles=COORDINATORS, help_key="partners.help_ajouter",
                example_key="partners.example_ajouter", order=21, aliases=("corriger_partenaire",))
async def start(call: CommandCall, ctx: Context) -> list[Reply]:
    intro = Reply(t("partners.edit_intro"))
    if not call.args:
        return await FORM.start(ctx, intro)
    await FORM.start(ctx)  # on the first field: the name, given with the command
    return [intro, *await FORM.answer(ctx, call.args)]


def values(data: dict[str, Any], existing: Structure | None) -> dict[str, Any]:
    """Column values; a place that stays in its commune keeps its position, a new one gets the town hall's."""
    commune = places.commune(data["commune"])
    assert commune is not None
    same = existing is not None and existing.insee == commune.insee
    place = {} if same else {"lat": commune.lat, "lon": commune.lon, "precise": False,
                             "postal_code": commune.postal_codes[0] if commune.postal_codes else ""}
    return {"name": data["name"], "insee": commune.insee, "departement": commune.departement,
            "commune": commune.name, "address": data["address"], "phone": data["phone"] or "",
            "hours": data["hours"] or "",
            "services": pack(data["services"]), **place}
