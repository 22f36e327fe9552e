"""/aide lists what this member may do, with an example each; /annuler leaves any flow."""

from __future__ import annotations

from bot.context import Context
from bot.events import Reply, TextReceived
from bot.i18n import t
from bot.router import MEMBERS, CommandCall, Router, Routes

router = Router("help")


@router.command("aide", help_key="help.help_aide", aliases=("help", "aide_moi"), in_group=True, order=0)
async def help_(_event: TextReceived, ctx: Context) -> Reply:
    assert isinstance(ctx.routes, Routes)
    lines = [t("help.title_group" if ctx.address.is_group else "help.title")]
    for command in ctx.routes.visible_commands(ctx.role, is_group=ctx.address.is_group):
        lines.append(f"- **/{command.name}** : {t(command.help_key)}")
        if command.example_key:
            lines.append(f"  {t('help.example', example=t(command.example_key))}")  # no italics: names hold _
    lines.append(t("help.footer"))
    return Reply("\n".join(lines))


@router.command("annuler", roles=MEMBERS, help_key="help.help_annuler", in_group=True, order=95,
                aliases=("stop", "quitter"), cancels=True)
async def cancel(_event: CommandCall, ctx: Context) -> Reply:
    # The core left the flow when this command arrived; say whether there was one.
    return Reply(t("help.cancelled" if ctx.left_step else "help.nothing_to_cancel"))
