"""RGPD in the chat: /confidentialite, /mes_donnees (a JSON file), /oublier, and erasing a member who left."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from bot.context import Context
from bot.events import Attachment, Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.router import COORDINATORS, Outcome, Router
from handlers.access import oversees, visible_territories
from storage import audit
from storage.erasure import apply_retention, erase_member, export_member
from storage.models import Member

router = Router("privacy")
log = logging.getLogger(__name__)

CONFIRM = (Choice("yes", "Oui, supprimer"), Choice("no", "Non, garder"))


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


@router.command("retirer_membre", roles=COORDINATORS, help_key="privacy.help_remove", order=40)
async def remove_member(_event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    query = select(Member).where(Member.erased_at.is_(None), Member.id != ctx.member.id).order_by(Member.display_name)
    if (scope := await visible_territories(ctx)) is not None:
        query = query.where(Member.territory_id.in_(scope))
    members = list((await ctx.session.execute(query.limit(20))).unique().scalars())
    if not members:
        return Reply(t("privacy.remove_none"))
    ctx.conversation.goto("privacy.remove")
    return Reply(t("privacy.remove_which"), choices=tuple(Choice(str(m.id), m.display_name[:60]) for m in members))


@router.choice("privacy.remove")
async def remove_chosen(event: ChoiceMade, ctx: Context) -> Reply:
    chosen = ctx.conversation.find_choice(event.choice_id)
    ctx.conversation.goto("privacy.remove_confirm", member=int(event.choice_id))
    return Reply(t("privacy.remove_confirm", name=chosen.label if chosen else "?"), choices=CONFIRM,
                 choices_per_row=2)


@router.choice("privacy.remove_confirm")
async def remove_confirmed(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    target_id = ctx.conversation.data["member"]
    ctx.conversation.end()
    target = await ctx.session.get(Member, target_id)
    if (event.choice_id != "yes" or target is None or target.erased_at is not None
            or not await oversees(ctx, target.territory_id)):
        return Reply(t("privacy.remove_cancelled"))
    await erase_member(ctx.session, target, ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="member.erased", actor_id=ctx.member.id,
                       target=f"member:{target_id}", by="coordinator")
    return Reply(t("privacy.removed"))


@router.job("privacy.retention", every_seconds=3600)
async def retention(job: JobContext) -> None:
    counts = await apply_retention(job.session, job.clock.now(), report_months=job.settings.retention_months)
    if any(counts.values()):
        log.info("retention: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
