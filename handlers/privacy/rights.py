"""RGPD in the chat: /confidentialite, /mes_donnees (a JSON file), /oublier, and erasing a member who left."""

from __future__ import annotations

import json
import logging

from bot.context import Context
from bot.events import Attachment, Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.markup import literal
from bot.router import COORDINATORS, CommandCall, Outcome, Router
from handlers.access import visible_territories
from handlers.quoting import quoted
from storage import audit
from storage.erasure import apply_retention, erase_member, export_member
from storage.members import active_members
from storage.models import ROLES, Member
from storage.normalize import fold

router = Router("privacy")
log = logging.getLogger(__name__)

CONFIRM = (Choice("yes", "Oui, supprimer"), Choice("no", "Non, garder"))
REMOVE_PAGE = 8


def notice(ctx: Context) -> str:
    return t("privacy.notice", months=ctx.settings.retention_months, contact=ctx.settings.controller_contact)


@router.command("confidentialite", help_key="privacy.help_notice", order=92, aliases=("confidentialité", "rgpd"))
async def privacy_notice(_event: TextReceived, ctx: Context) -> Reply:
    return Reply(notice(ctx))


@router.command("mes_donnees", help_key="privacy.help_export", order=93, aliases=("mes_données",))
async def my_data(_event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    data = await export_member(ctx.session, ctx.member)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode()
    return Reply(t("privacy.export_ready"), attachment=Attachment("mes-donnees-relais.json", "application/json", body))


@router.command("oublier", help_key="privacy.help_forget", order=94)
async def forget_me(_event: TextReceived, ctx: Context) -> Reply:
    ctx.conversation.goto("privacy.forget")
    return Reply(t("privacy.forget_confirm"), choices=CONFIRM, choices_per_row=2)


@router.choice("privacy.forget")
async def forget_confirmed(event: ChoiceMade, ctx: Context) -> Reply | Outcome:
    assert ctx.member is not None
    ctx.conversation.end()
    if event.choice_id != "yes":
        return Reply(t("privacy.forget_kept"))
    member_id = ctx.member.id
    await erase_member(ctx.session, ctx.member, ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="member.erased", actor_id=member_id,
                       target=f"member:{member_id}", by="self")
    return Outcome((Reply(t("privacy.forgotten")),), forget_chat=True)


async def removable(ctx: Context) -> list[Member]:
    """Members one may erase: of a lower role (an admin is never erased by a coordinator), in one's subtree."""
    assert ctx.member is not None
    lower = ROLES[:ROLES.index(ctx.member.role)]
    return await active_members(ctx.session, roles=lower, territory_ids=await visible_territories(ctx),
                                besides=ctx.member.id)


def matching(members: list[Member], query: str) -> list[Member]:
    """The exact name if it is there (« Referent 2 » is not « Referent 24 »), else every name holding all words."""
    wanted = fold(query)
    exact = [m for m in members if fold(m.display_name) == wanted]
    return exact or [m for m in members if all(_holds(fold(m.display_name), w) for w in wanted.split())]


def _holds(name: str, word: str) -> bool:
    """A number matches the same number (« 7 » is « 07 », never « 17 »); a word of 3+ letters a part of a word."""
    if word.isdigit():
        return any(part.isdigit() and int(part) == int(word) for part in name.split())
    return word in name.split() or (len(word) >= 3 and word in name)


async def member_page(ctx: Context, *, query: str = "", offset: int = 0) -> Reply:
    """One page of the members one may erase (those matching `query`), with « Suivants » / « Précédents »."""
    found = await removable(ctx)
    members = matching(found, query) if query else found
    if not members:
        if query and found:
            ctx.conversation.goto("privacy.remove", query="", offset=0)
            return Reply(t("privacy.remove_no_match", query=quoted(query)))
        ctx.conversation.end()
        return Reply(t("privacy.remove_none"))
    if len(members) == 1 and query:
        return confirm(ctx, members[0])
    offset = min(max(offset, 0), (len(members) - 1) // REMOVE_PAGE * REMOVE_PAGE)
    shown = members[offset:offset + REMOVE_PAGE]
    choices = [Choice(str(m.id), m.display_name[:60]) for m in shown]
    if offset > 0:
        choices.append(Choice("prev", t("privacy.remove_prev")))
    if offset + REMOVE_PAGE < len(members):
        choices.append(Choice("next", t("privacy.remove_next")))
    ctx.conversation.goto("privacy.remove", query=query, offset=offset)
    text = t("privacy.remove_which", first=offset + 1, last=offset + len(shown), total=len(members))
    return Reply(text, choices=tuple(choices))


def confirm(ctx: Context, member: Member) -> Reply:
    ctx.conversation.goto("privacy.remove_confirm", member=member.id)
    return Reply(t("privacy.remove_confirm", name=literal(member.display_name)), choices=CONFIRM, choices_per_row=2)


@router.command("retirer_membre", roles=COORDINATORS, help_key="privacy.help_remove", order=40)
async def remove_member(call: CommandCall, ctx: Context) -> Reply:
    return await member_page(ctx, query=call.args)


@router.step("privacy.remove")
async def remove_search(event: TextReceived, ctx: Context) -> Reply:
    return await member_page(ctx, query=event.text.strip())


@router.choice("privacy.remove")
async def remove_chosen(event: ChoiceMade, ctx: Context) -> Reply:
    data = ctx.conversation.data
    if event.choice_id in ("next", "prev"):
        step = REMOVE_PAGE if event.choice_id == "next" else -REMOVE_PAGE
        return await member_page(ctx, query=data.get("query", ""), offset=data.get("offset", 0) + step)
    chosen = next((m for m in await removable(ctx) if str(m.id) == event.choice_id), None)
    if chosen is None:  # gone meanwhile, or a forged press
        ctx.conversation.end()
        return Reply(t("privacy.remove_cancelled"))
    return confirm(ctx, chosen)


@router.choice("privacy.remove_confirm")
async def remove_confirmed(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    target_id = ctx.conversation.data["member"]
    ctx.conversation.end()
    target = next((m for m in await removable(ctx) if m.id == target_id), None)  # the rule, checked again
    if event.choice_id != "yes" or target is None:
        return Reply(t("privacy.remove_cancelled"))
    await erase_member(ctx.session, target, ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="member.erased", actor_id=ctx.member.id,
                       target=f"member:{target_id}", by=ctx.member.role)
    return Reply(t("privacy.removed"))


@router.job("privacy.retention", every_seconds=3600)
async def retention(job: JobContext) -> None:
    counts = await apply_retention(job.session, job.clock.now(), report_months=job.settings.retention_months)
    if any(counts.values()):
        log.info("retention: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
