"""/nom: change the name the network sees (type it, or give it with the command, then confirm)."""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.events import Reply
from bot.form import Field, Form, Parsed, question
from bot.i18n import t
from bot.markup import literal
from bot.router import CommandCall, Router

router = Router("profile")

NAME_LIMIT = 80


async def read_name(text: str, _ctx: Context) -> Parsed:
    name = " ".join(text.split())
    if not name or len(name) > NAME_LIMIT or not any(ch.isalpha() for ch in name):
        return Parsed.again(t("profile.invalid", limit=NAME_LIMIT))
    return Parsed.ok(name)


async def summary(_ctx: Context, data: dict[str, Any]) -> str:
    return t("profile.confirm", name=literal(data["name"]))


async def save(ctx: Context, data: dict[str, Any], _key: str) -> list[Reply]:
    assert ctx.member is not None
    ctx.member.display_name = data["name"]
    return [Reply(t("profile.done", name=literal(ctx.member.display_name)))]


FORM = Form("profile", (Field("name", t("profile.field_name"), question(t("profile.ask")), read=read_name),),
            summary=summary, submit=save, cancelled=t("profile.kept"))
FORM.register(router)


@router.command("nom", help_key="profile.help_nom", example_key="profile.example_nom", order=91)
async def ask_name(call: CommandCall, ctx: Context) -> list[Reply]:
    if not call.args:
        return await FORM.start(ctx)
    parsed = await read_name(call.args, ctx)
    if parsed.reply is not None:  # « /nom 1234 »: say why, then ask
        return [parsed.reply, *await FORM.start(ctx)]
    return await FORM.start(ctx, name=parsed.value)
