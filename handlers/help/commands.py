"""/aide: what this member may do, grouped and short enough for a phone; /aide COMMANDE gives the example;
/annuler leaves any flow."""

from __future__ import annotations

from itertools import groupby

from bot.context import Context
from bot.events import Reply
from bot.i18n import has, t
from bot.router import MEMBERS, Command, CommandCall, Router, Routes

router = Router("help")

# Features shown under one heading (several routers make up one feature for the reader).
TOPICS = {"reports": "reports", "report_followup": "reports", "report_alerts": "reports", "partners": "partners",
          "partner_edit": "partners", "partner_hide": "partners", "meetings": "meetings", "meeting_answers": "meetings",
          "meeting_changes": "meetings", "meeting_reminders": "meetings", "meeting_closing": "meetings",
          "meeting_nudge": "meetings", "digest": "digest", "coop": "digest", "onboarding": "account",
          "profile": "account", "privacy": "account", "help": "account"}
COMPACT_BEYOND = 12
ORDER = ("reports", "partners", "meetings", "digest", "account", "")


@router.command("aide", help_key="help.help_aide", aliases=("help", "aide_moi"), in_group=True, order=0)
async def help_(call: CommandCall, ctx: Context) -> Reply:
    assert isinstance(ctx.routes, Routes)
    visible = ctx.routes.visible_commands(ctx.role, is_group=ctx.address.is_group)
    wanted = call.args.strip().lstrip("/!").lower()
    if wanted:
        return _detail(wanted, visible)
    compact = len(visible) > COMPACT_BEYOND  # a coordinator's many commands: names only, one line per topic
    lines = [t("help.title_group" if ctx.address.is_group else "help.title")]
    by_topic = sorted(visible, key=lambda c: (_topic_order(c), c.order, c.name))
    for topic, group in groupby(by_topic, key=_topic):
        commands = list(group)
        heading = t(f"help.topic_{topic}") if topic and has(f"help.topic_{topic}") else ""
        if compact:
            lines.append(f"{heading} {' · '.join(f'/{c.name}' for c in commands)}".strip())
        else:
            lines += [heading] if heading else []
            lines.extend(f"- /{c.name} : {t(c.help_key)}" for c in commands)
    lines.append(t("help.footer"))
    return Reply("\n".join(lines))


def _topic(command: Command) -> str:
    return TOPICS.get(command.feature, "")


def _topic_order(command: Command) -> int:
    return ORDER.index(_topic(command))


def _detail(name: str, visible: list[Command]) -> Reply:
    command = next((c for c in visible if name in (c.name, *c.aliases)), None)
    if command is None:
        return Reply(t("help.unknown", command=name))
    lines = [f"**/{command.name}** : {t(command.help_key)}"]
    if command.example_key:
        lines.append(t("help.example", example=t(command.example_key)))  # no italics: names hold _
    return Reply("\n".join(lines))


@router.command("annuler", roles=MEMBERS, help_key="help.help_annuler", in_group=True, order=95,
                aliases=("stop", "quitter"), cancels=True)
async def cancel(_call: CommandCall, ctx: Context) -> Reply:
    # The core left the flow when this command arrived; say whether there was one.
    return Reply(t("help.cancelled" if ctx.left_step else "help.nothing_to_cancel"))
