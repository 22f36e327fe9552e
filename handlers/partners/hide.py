"""/masquer_partenaire: a coordinator hides a place of their territory from searches (or shows it again)."""

from __future__ import annotations

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.router import COORDINATORS, Router, parse_command
from handlers import places
from handlers.quoting import quoted
from storage import audit
from storage.structures import by_id, named_like

router = Router("partner_hide")
BY_COORDINATOR = "coordinator"


@router.command("masquer_partenaire", roles=COORDINATORS, help_key="partners.help_masquer",
                example_key="partners.example_masquer", order=22, aliases=("reafficher_partenaire",))
async def start(event: TextReceived, ctx: Context) -> list[Reply]:
    _, text = parse_command(event.text) or ("", "")
    if not text:
        ctx.conversation.goto("partner_hide.name")
        return [Reply(t("partners.hide_ask_name"), expects_answer=True)]
    return await named(ctx, text)


@router.step("partner_hide.name")
async def typed_name(event: TextReceived, ctx: Context) -> list[Reply]:
    return await named(ctx, event.text[:200])


async def named(ctx: Context, text: str) -> list[Reply]:
    """Places of the coordinator's territory whose name has every typed word; an admin's reach is everywhere."""
    scope = await territory_communes(ctx)
    found = await named_like(ctx.session, text, scope, limit=8)
    if not found:
        ctx.conversation.end()
        return [Reply(t("partners.hide_none", text=quoted(text, limit=60)))]
    ctx.conversation.goto("partner_hide.pick")
    choices = tuple(Choice(str(s.id), t("partners.hide_show_choice" if s.hidden else "partners.hide_choice",
                                          name=s.name, commune=s.commune)) for s in found)
    return [Reply(t("partners.hide_which"), choices=choices)]


async def territory_communes(ctx: Context) -> tuple[str, ...]:
    return (await places.preferences(ctx)).insee


@router.choice("partner_hide.pick")
async def picked(event: ChoiceMade, ctx: Context) -> list[Reply]:
    """Hide it, or show it again if hidden; only within the coordinator's territory, checked again here."""
    assert ctx.member is not None
    ctx.conversation.end()
    row = await by_id(ctx.session, int(event.choice_id)) if event.choice_id.isdigit() else None
    if row is None or row.insee not in await territory_communes(ctx):
        return [Reply(t("partners.hide_not_yours"))]
    showing = bool(row.hidden)
    row.hidden = "" if showing else BY_COORDINATOR
    if showing:
        row.missing = 0
    await audit.record(ctx.session, now=ctx.now, action="structure.shown" if showing else "structure.hidden",
                       actor_id=ctx.member.id, target=f"{row.source}:{row.source_id}")
    return [Reply(t("partners.hide_shown" if showing else "partners.hide_done", name=row.name))]
