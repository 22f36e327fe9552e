"""/nom: change the name the network sees, in two steps (type it, then confirm)."""

from __future__ import annotations

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.router import Router

router = Router("profile")

NAME_LIMIT = 80
CONFIRM = (Choice("ok", "Confirmer"), Choice("redo", "Corriger"))


@router.command("nom", help_key="profile.help_nom", example_key="profile.example_nom", order=91)
async def ask_name(event: TextReceived, ctx: Context) -> Reply:
    ctx.conversation.goto("profile.name")
    return Reply(t("profile.ask"))


@router.step("profile.name")
async def got_name(event: TextReceived, ctx: Context) -> Reply:
    name = " ".join(event.text.split())
    if not name or len(name) > NAME_LIMIT or not any(ch.isalpha() for ch in name):
        return Reply(t("profile.invalid", limit=NAME_LIMIT))
    ctx.conversation.goto("profile.confirm", name=name)
    return Reply(t("profile.confirm", name=literal(name)), choices=CONFIRM, choices_per_row=2)


@router.choice("profile.confirm")
async def confirmed(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    if event.choice_id == "redo":
        ctx.conversation.goto("profile.name")
        return Reply(t("profile.ask"))
    ctx.member.display_name = ctx.conversation.data["name"]
    ctx.conversation.end()
    return Reply(t("profile.done", name=literal(ctx.member.display_name)))
