"""/ajouter_partenaire: a coordinator adds or corrects a place; it is then maintained locally, never overwritten."""

from __future__ import annotations

import re
from typing import Any

from unidecode import unidecode

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.router import COORDINATORS, Router, parse_command
from handlers import places
from handlers.partners.cards import hours_text
from storage import audit
from storage.structures import Structure, by_id, named_like, pack, parse_hours, save_local
from storage.themes import guess, themes

router = Router("partner_edit")

FIELDS = ("name", "commune", "address", "phone", "services", "hours")
OPTIONAL = ("phone", "hours")
LIMITS = {"name": 200, "address": 300, "phone": 40, "hours": 300}
_DAYS = (("lundi", "lun", "Mo"), ("mardi", "mar", "Tu"), ("mercredi", "mer", "We"), ("jeudi", "jeu", "Th"),
         ("vendredi", "ven", "Fr"), ("samedi", "sam", "Sa"), ("dimanche", "dim", "Su"))


def osm_hours(text: str) -> str | None:
    """French hours (« lun-ven 9h-12h, 14h-17h ; sam 9h-12h ») or OSM syntax, as OSM syntax; None if unreadable."""
    if parse_hours(text) is not None:
        return text.strip()
    plain = unidecode(text).lower()
    for long, short, code in _DAYS:
        plain = re.sub(rf"\b(?:{long}s?|{short})\b\.?", code, plain)
    plain = re.sub(r"(\d{1,2})\s*h(\d{2})?", lambda m: f"{int(m[1]):02d}:{m[2] or '00'}", plain)
    plain = re.sub(r"\b(?:de|du|le|les)\b", " ", plain)
    plain = re.sub(r"\b(?:a|au)\b", "-", plain)
    plain = re.sub(r"\bet\b", ",", plain)
    plain = re.sub(r"\s*([-,])\s*", r"\1", plain)
    plain = re.sub(r"\s*;\s*", "; ", " ".join(plain.split()))
    return plain if parse_hours(plain) is not None else None


@router.command("ajouter_partenaire", roles=COORDINATORS, help_key="partners.help_ajouter",
                example_key="partners.example_ajouter", order=21, aliases=("corriger_partenaire",))
async def start(event: TextReceived, ctx: Context) -> list[Reply]:
    _, text = parse_command(event.text) or ("", "")
    ctx.conversation.goto("partner_edit.name")
    if not text:
        return [Reply(t("partners.edit_intro")), Reply(t("partners.edit_ask_name"))]
    return await named(ctx, text)


@router.step("partner_edit.name")
async def typed_name(event: TextReceived, ctx: Context) -> list[Reply]:
    return await named(ctx, event.text)


async def named(ctx: Context, text: str) -> list[Reply]:
    """The name; the first time, offers to correct places of the network with a similar name."""
    name = " ".join(text.split())
    if len(name) > LIMITS["name"]:
        return [Reply(t("partners.edit_too_long", length=len(name), limit=LIMITS["name"]))]
    ctx.conversation.update(name=name)
    if ctx.conversation.data.get("matched"):
        return next_question(ctx)
    ctx.conversation.update(matched=True)
    found = await named_like(ctx.session, name, (await places.preferences(ctx)).insee)
    if not found:
        return next_question(ctx)
    ctx.conversation.goto("partner_edit.match")
    choices = [Choice(str(s.id), t("partners.edit_correct", name=s.name, commune=s.commune)) for s in found]
    return [Reply(t("partners.edit_found"), choices=(*choices, Choice("new", t("partners.edit_new"))))]


@router.choice("partner_edit.match")
async def chose_match(event: ChoiceMade, ctx: Context) -> list[Reply]:
    existing = await by_id(ctx.session, int(event.choice_id)) if event.choice_id.isdigit() else None
    if existing is not None:
        ctx.conversation.update(**current_values(existing))
    return next_question(ctx)


def current_values(structure: Structure) -> dict[str, Any]:
    return {"edit_id": structure.id, "name": structure.name, "commune": structure.insee,
            "address": structure.address, "phone": structure.phone, "services": list(structure.service_ids),
            "hours": structure.hours}


def next_question(ctx: Context) -> list[Reply]:
    """Ask for the first missing field, or show the summary."""
    missing = next((f for f in FIELDS if f not in ctx.conversation.data), None)
    if missing is None:
        ctx.conversation.goto("partner_edit.confirm")
        return [summary(ctx)]
    ctx.conversation.goto(f"partner_edit.{missing}")
    if missing == "services":
        return [services_prompt(ctx, t("partners.edit_ask_services"))]
    skip = (Choice("skip", t("partners.edit_skip")),) if missing in OPTIONAL else ()
    return [Reply(t(f"partners.edit_ask_{missing}"), choices=skip)]


@router.step("partner_edit.commune")
async def typed_commune(event: TextReceived, ctx: Context) -> list[Reply]:
    resolution = await places.resolve(ctx, event.text[:100])
    if resolution.commune is not None:
        ctx.conversation.update(commune=resolution.commune.insee)
        return next_question(ctx)
    if resolution.candidates:
        return [Reply(t("partners.commune_which"), choices=places.candidate_choices(resolution))]
    return [Reply(t("partners.commune_unknown", text=literal(event.text.strip()[:40])))]


@router.choice("partner_edit.commune")
async def chose_commune(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(commune=event.choice_id)
    return next_question(ctx)


@router.step("partner_edit.address")
@router.step("partner_edit.phone")
async def typed_text(event: TextReceived, ctx: Context) -> list[Reply]:
    field = ctx.conversation.step.removeprefix("partner_edit.")
    value = " ".join(event.text.split())
    if len(value) > LIMITS[field]:
        return [Reply(t("partners.edit_too_long", length=len(value), limit=LIMITS[field]))]
    ctx.conversation.update(**{field: value})
    return next_question(ctx)


@router.choice("partner_edit.phone")
@router.choice("partner_edit.hours")
async def skipped(event: ChoiceMade, ctx: Context) -> list[Reply]:
    ctx.conversation.update(**{ctx.conversation.step.removeprefix("partner_edit."): ""})
    return next_question(ctx)


@router.step("partner_edit.hours")
async def typed_hours(event: TextReceived, ctx: Context) -> list[Reply]:
    hours = osm_hours(event.text[:LIMITS["hours"]])
    if hours is None:
        return [Reply(t("partners.edit_hours_unknown"), choices=(Choice("skip", t("partners.edit_skip")),))]
    ctx.conversation.update(hours=hours)
    return next_question(ctx)


def services_prompt(ctx: Context, text: str) -> Reply:
    """One button per service, ticked when chosen, and « Terminé »."""
    chosen = set(ctx.conversation.data.get("picked", []))
    choices = tuple(Choice(s.id, ("✓ " if s.id in chosen else "") + s.short) for s in themes().services)
    return Reply(text, choices=(*choices, Choice("done", t("partners.edit_services_done"))), choices_per_row=2)


@router.choice("partner_edit.services")
async def toggled_service(event: ChoiceMade, ctx: Context) -> list[Reply]:
    picked = list(ctx.conversation.data.get("picked", []))
    if event.choice_id == "done":
        if not picked:
            return [services_prompt(ctx, t("partners.edit_services_none"))]
        ctx.conversation.update(services=picked)
        return next_question(ctx)
    picked = [p for p in picked if p != event.choice_id] if event.choice_id in picked else [*picked, event.choice_id]
    ctx.conversation.update(picked=picked)
    return [services_prompt(ctx, t("partners.edit_ask_services"))]


@router.step("partner_edit.services")
async def typed_service(event: TextReceived, ctx: Context) -> list[Reply]:
    theme = guess(event.text, themes().services)
    if theme is not None:
        ctx.conversation.update(picked=list(dict.fromkeys([*ctx.conversation.data.get("picked", []), theme.id])))
    return [services_prompt(ctx, t("partners.edit_ask_services"))]


def summary(ctx: Context) -> Reply:
    data, none = ctx.conversation.data, t("partners.edit_none")
    labels = [s.short for theme_id in data["services"] if (s := themes().service(theme_id))]
    text = t("partners.edit_summary", name=literal(data["name"]), commune=places.label(data["commune"]),
             address=data["address"] or none, phone=data["phone"] or none, services=", ".join(labels),
             hours=hours_text(data["hours"]) if data["hours"] else none)
    choices = (Choice("save", t("partners.edit_save")), Choice("change", t("partners.edit_change")),
               Choice("cancel", t("partners.edit_cancel")))
    return Reply(text, choices=choices, choices_per_row=3)


@router.choice("partner_edit.confirm")
async def confirmed(event: ChoiceMade, ctx: Context) -> list[Reply]:
    if event.choice_id == "cancel":
        ctx.conversation.end()
        return [Reply(t("partners.edit_cancelled"))]
    if event.choice_id == "change":
        ctx.conversation.goto("partner_edit.change")
        fields = tuple(Choice(f, t(f"partners.field_{f}")) for f in FIELDS)
        return [Reply(t("partners.edit_which"), choices=fields, choices_per_row=2)]
    return [await save(ctx)]


@router.choice("partner_edit.change")
async def change_field(event: ChoiceMade, ctx: Context) -> list[Reply]:
    data = ctx.conversation.data
    if event.choice_id == "services":
        data["picked"] = list(data.get("services", []))
    data.pop(event.choice_id, None)
    ctx.conversation.update()
    return next_question(ctx)


async def save(ctx: Context) -> Reply:
    assert ctx.member is not None
    data = ctx.conversation.data
    existing = await by_id(ctx.session, data["edit_id"]) if data.get("edit_id") else None
    row = await save_local(ctx.session, values(data, existing), ctx.now, existing)
    await audit.record(ctx.session, now=ctx.now, action="structure.saved", actor_id=ctx.member.id,
                       target=f"{row.source}:{row.source_id}")
    ctx.conversation.end()
    return Reply(t("partners.edit_saved", name=literal(row.name), commune=places.label(row.insee)))


def values(data: dict[str, Any], existing: Structure | None) -> dict[str, Any]:
    """Column values; a place that stays in its commune keeps its position, a new one gets the town hall's."""
    commune = places.commune(data["commune"])
    assert commune is not None
    same = existing is not None and existing.insee == commune.insee
    place = {} if same else {"lat": commune.lat, "lon": commune.lon, "precise": False,
                             "postal_code": commune.postal_codes[0] if commune.postal_codes else ""}
    return {"name": data["name"], "insee": commune.insee, "departement": commune.departement,
            "commune": commune.name, "address": data["address"], "phone": data["phone"], "hours": data["hours"],
            "services": pack(data["services"]), **place}
