"""Which handler answers an event: commands, stateless buttons, flow steps, and the polite fallbacks."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.events import ChoiceMade, Event, FileReceived, LocationShared, Reply, TextReceived
from bot.i18n import t
from bot.matching import closest
from bot.router import STRANGER, Handler, HandlerResult, Routes, parse_command

if TYPE_CHECKING:
    from bot.context import Context


def answer(text: str, *, keep_offer: bool = False) -> Handler:
    """A handler that only says something (errors, hints)."""

    async def say(_event: Event, ctx: Context) -> HandlerResult:
        if keep_offer and ctx.conversation.offered:
            choices = tuple(ctx.conversation.offered)
            return Reply(text, choices=choices, prompt_id=ctx.conversation.prompt_id)
        return Reply(text)

    return say


async def _silence(_event: Event, _ctx: Context) -> HandlerResult:
    return None


def route(routes: Routes, event: Event, ctx: Context) -> tuple[Handler | None, Event]:
    if isinstance(event, TextReceived) and (parsed := parse_command(event.text)):
        return _command(routes, ctx, *parsed), event
    if ctx.member is None:
        return (answer(t("core.join_how")) if not ctx.address.is_group else _silence), event
    if isinstance(event, ChoiceMade):
        return _choice(routes, event, ctx)
    if isinstance(event, FileReceived):
        return (answer(t("core.file_unused")) if not ctx.address.is_group else _silence), event
    if isinstance(event, LocationShared):
        handler = routes.locations.get(ctx.conversation.step) or routes.locations.get("")
        return handler or answer(t("core.location_unused")), event
    return _text(routes, ctx), event


def _command(routes: Routes, ctx: Context, name: str, _args: str) -> Handler:
    command = routes.commands.get(name)
    group = ctx.address.is_group
    if command is None:
        if ctx.member is None:
            return answer(t("core.join_how")) if not group else _silence
        allowed = [n for n, c in routes.commands.items() if c.allows(ctx.role, is_group=group)]
        suggestion = closest(name, allowed)
        key = "core.unknown_command_suggest" if suggestion else "core.unknown_command"
        return answer(t(key, command=name, suggestion=suggestion))
    if ctx.member is None and STRANGER not in command.roles:
        return answer(t("core.join_how"))
    if not command.allows(ctx.role, is_group=group):
        if ctx.role in command.roles:
            return answer(t("core.command_private_only" if group else "core.command_group_only", command=name))
        return answer(t("core.command_forbidden", command=name))
    ctx.conversation.end()  # a new command leaves whatever flow was under way
    return command.handler


def _choice(routes: Routes, event: ChoiceMade, ctx: Context) -> tuple[Handler, Event]:
    action = routes.actions.get(event.prompt_id)
    if action is not None:
        return action, event
    conversation = ctx.conversation
    handler = routes.choices.get(conversation.step)
    if handler is None or event.prompt_id != conversation.prompt_id:
        return answer(t("core.choice_stale")), event
    if conversation.find_choice(event.choice_id) is None:
        return answer(t("core.choice_unknown"), keep_offer=True), event
    return handler, replace(event, prompt_id=conversation.prompt_id)


def _text(routes: Routes, ctx: Context) -> Handler:
    conversation = ctx.conversation
    handler = routes.steps.get(conversation.step) if conversation.step else None
    if handler is not None:
        return handler
    if conversation.step and conversation.offered:
        return answer(t("core.choose_one"), keep_offer=True)
    if ctx.address.is_group:
        return _silence
    if conversation.expired_step:
        return answer(t("core.flow_expired"))
    return answer(t("core.not_understood"))
