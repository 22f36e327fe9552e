"""Joining with an invitation code (/start CODE) and one's own profile (/moi)."""

from __future__ import annotations

from bot.context import Context
from bot.events import Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.router import MEMBERS, STRANGER, Router, parse_command
from handlers.onboarding.attempts import attempts
from handlers.privacy import rights as privacy
from storage import audit
from storage.members import join, redeem_invitation

router = Router("onboarding")

PLATFORM_NAMES = {"telegram": "Telegram", "matrix": "Matrix / Tchap", "console": "console"}
ROLE_NAMES = {"referent": "référent", "coordinator": "coordinateur", "admin": "administrateur"}


@router.command("start", roles=(STRANGER, *MEMBERS), help_key="", aliases=("rejoindre",), in_group=True)
async def start(event: TextReceived, ctx: Context) -> Reply | list[Reply]:
    _, code = parse_command(event.text) or ("", "")
    if ctx.member is not None:
        return Reply(t("onboarding.already_member", name=literal(ctx.member.display_name),
                       territory=ctx.member.territory.name))
    if ctx.address.is_group:
        return Reply(t("onboarding.join_in_private"))
    if not code:
        return Reply(t("core.join_how"))
    if (wait := attempts.wait(ctx.address, ctx.now)) is not None:
        return Reply(t("onboarding.too_many_codes", minutes=max(1, -(-int(wait.total_seconds()) // 60))))
    invitation = await redeem_invitation(ctx.session, code, ctx.now)
    if invitation is None:
        attempts.failed(ctx.address, ctx.now)
        return Reply(t("onboarding.bad_code"))
    attempts.succeeded(ctx.address)
    ctx.member = await join(ctx.session, invitation, platform=ctx.address.platform, user_id=ctx.address.user_id,
                            chat_id=ctx.address.chat_id, display_name=ctx.address.display_name, now=ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="member.joined", actor_id=ctx.member.id,
                       target=f"member:{ctx.member.id}", role=ctx.member.role)
    welcome = Reply(t("onboarding.welcome", name=literal(ctx.member.display_name), role=ROLE_NAMES[ctx.member.role],
                      territory=ctx.member.territory.name))
    return [welcome, Reply(privacy.notice(ctx))]


@router.command("moi", help_key="onboarding.help_moi", order=90)
async def me(_event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    platforms = ", ".join(sorted(PLATFORM_NAMES.get(i.platform, i.platform) for i in ctx.member.identities))
    return Reply(t("onboarding.profile", name=literal(ctx.member.display_name), role=ROLE_NAMES[ctx.member.role],
                   territory=ctx.member.territory.name, platforms=platforms,
                   since=ctx.member.created_at.astimezone(ctx.tz).strftime("%d/%m/%Y")))
