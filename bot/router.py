"""Features register their handlers on a Router; `route` alone decides what an event is and who answers it:
a command (with its parsed arguments), a pressed or typed choice, a stateless button, free text, a file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.conversation import Answered, prompt_owner
from bot.events import Address, Choice, ChoiceMade, Event, FileReceived, LocationShared, Reply, TextReceived
from bot.i18n import t
from bot.matching import closest, match_choice

if TYPE_CHECKING:
    from bot.context import Context


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler decided: its replies, and whether the chat must be forgotten (the member was erased:
    nothing more is written, answers go out directly)."""

    replies: tuple[Reply, ...] = ()
    forget_chat: bool = False

    @classmethod
    def of(cls, result: HandlerResult) -> Outcome:
        if result is None:
            return cls()
        if isinstance(result, Outcome):
            return result
        return cls((result,) if isinstance(result, Reply) else tuple(result))


HandlerResult = Reply | list[Reply] | Outcome | None
Handler = Callable[[Any, "Context"], Awaitable[HandlerResult]]
H = TypeVar("H", bound=Handler)
JobRun = Callable[[Any], Awaitable[None]]
J = TypeVar("J", bound=JobRun)

STRANGER = "stranger"
MEMBERS = ("referent", "coordinator", "admin")
COORDINATORS = ("coordinator", "admin")
ADMINS = ("admin",)


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A command as its handler receives it: `/signaler@relais_bot la CAF…` -> name "signaler", args "la CAF…"."""

    address: Address
    text: str
    message_id: str
    name: str
    args: str


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic task of a feature (reminders due, weekly digests, retention), run by the scheduler."""

    name: str
    run: JobRun  # (bot.jobs.JobContext) -> None
    every_seconds: float


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    roles: tuple[str, ...]  # who may use it; STRANGER means people with no membership too
    help_key: str  # i18n key of the one-line description; "" hides it from /aide
    example_key: str = ""
    in_private: bool = True
    in_group: bool = False
    aliases: tuple[str, ...] = ()
    order: int = 100
    topic: str = ""  # /aide groups commands by topic (i18n key), so a long list stays readable on a phone
    cancels: bool = False  # /annuler: leaving the flow is the point, no « saisie abandonnée » note
    feature: str = ""  # the router's name: /aide groups commands by feature
    # Answered for an anonymous group admin too (Address.user_id == "": nobody to look up); the handler then runs
    # with ctx.member None and must answer only what the whole group may see.
    anonymous: bool = False

    def allows(self, role: str, *, is_group: bool) -> bool:
        return role in self.roles and (self.in_group if is_group else self.in_private)


TABLES = ("commands", "steps", "choices", "locations", "files", "actions", "jobs")


class Router:
    """A feature's handlers; registration returns the function unchanged so tests call it directly."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Command] = {}
        self.steps: dict[str, Handler] = {}  # text typed while in a step
        self.choices: dict[str, Handler] = {}  # a choice made while in a step
        self.locations: dict[str, Handler] = {}  # a location shared while in a step ("" = anywhere)
        self.files: dict[str, Handler] = {}  # a photo or file sent while in a step ("" = anywhere)
        self.actions: dict[str, Handler] = {}  # stateless buttons: prompt ids such as "rsvp"
        self.jobs: dict[str, Job] = {}

    def command(self, name: str, *, roles: Iterable[str] = MEMBERS, help_key: str = "", example_key: str = "",
                in_private: bool = True, in_group: bool = False, aliases: Iterable[str] = (),
                order: int = 100, topic: str = "", cancels: bool = False,
                anonymous: bool = False) -> Callable[[H], H]:
        def register(handler: H) -> H:
            spec = Command(name, handler, tuple(roles), help_key, example_key, in_private, in_group,
                           tuple(aliases), order, topic, cancels, self.name, anonymous)
            for key in (name, *spec.aliases):
                self.commands[key] = spec
            return handler
        return register

    def step(self, name: str) -> Callable[[H], H]:
        return self._into(self.steps, name)

    def choice(self, name: str) -> Callable[[H], H]:
        return self._into(self.choices, name)

    def location(self, name: str = "") -> Callable[[H], H]:
        return self._into(self.locations, name)

    def file(self, name: str = "") -> Callable[[H], H]:
        return self._into(self.files, name)

    def action(self, prompt_id: str) -> Callable[[H], H]:
        if ":" in prompt_id or "|" in prompt_id:
            raise ValueError("action prompt ids are plain words")
        return self._into(self.actions, prompt_id)

    def job(self, name: str, *, every_seconds: float = 30) -> Callable[[J], J]:
        def register(run: J) -> J:
            self.jobs[name] = Job(name, run, every_seconds)
            return run
        return register

    @staticmethod
    def _into(table: dict[str, Handler], key: str) -> Callable[[H], H]:
        def register(handler: H) -> H:
            if key in table:
                raise ValueError(f"{key!r} registered twice")
            table[key] = handler
            return handler
        return register


class Routes:
    """All routers of the application merged."""

    def __init__(self, routers: Iterable[Router]) -> None:
        self.commands: dict[str, Command] = {}
        self.steps: dict[str, Handler] = {}
        self.choices: dict[str, Handler] = {}
        self.locations: dict[str, Handler] = {}
        self.files: dict[str, Handler] = {}
        self.actions: dict[str, Handler] = {}
        self.jobs: dict[str, Job] = {}
        for router in routers:
            for table in TABLES:
                mine, theirs = getattr(self, table), getattr(router, table)
                clash = set(mine) & set(theirs)
                if clash:
                    raise ValueError(f"{router.name}: {sorted(clash)} already registered")
                mine.update(theirs)

    def visible_commands(self, role: str, *, is_group: bool) -> list[Command]:
        unique = {id(c): c for c in self.commands.values()}.values()
        shown = [c for c in unique if c.help_key and c.allows(role, is_group=is_group)]
        return sorted(shown, key=lambda c: (c.order, c.name))


def parse_command(text: str) -> tuple[str, str] | None:
    """`/signaler@relais_bot texte` or `!signaler texte` -> ("signaler", "texte"); None when not a command."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "/!" or not (stripped[1].isalpha() or stripped[1] == "_"):
        return None
    head, *rest_parts = stripped[1:].split(maxsplit=1)
    rest = rest_parts[0] if rest_parts else ""
    name = head.split("@", 1)[0].lower()
    return name, rest.strip()


# --- the decision ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Route:
    """Who answers an event, with what, and what the core does around it."""

    handler: Handler
    event: Any
    leaves_flow: bool = False  # a command: the flow under way is left first
    quietly: bool = False  # …without saying that a draft was dropped (/annuler)
    taken: ChoiceMade | None = None  # a choice consumed: remembered so a double press is recognised
    accepted: bool = True  # for the adapter's receipt: False leaves a pressed keyboard untouched
    notice: str = ""  # a few words for a press's pop-up
    quiet: bool = field(default=False)  # nothing to say (a group's chatter): no reply, no state change


def say(text: str, *, offer: bool = False) -> Handler:
    """A handler that only says something; with `offer`, the choices under way are shown again (same prompt)."""

    async def answer(_event: Event, ctx: Context) -> HandlerResult:
        conversation = ctx.conversation
        if offer and conversation.offered:
            return Reply(text, choices=tuple(conversation.offered), prompt_id=conversation.prompt_id)
        return Reply(text)

    return answer


async def _silence(_event: Event, _ctx: Context) -> HandlerResult:
    return None


QUIET = Route(_silence, None, accepted=False, quiet=True)


async def route(routes: Routes, event: Event, ctx: Context) -> Route:
    if isinstance(event, TextReceived) and (parsed := parse_command(event.text)):
        return _command(routes, ctx, CommandCall(event.address, event.text, event.message_id, *parsed))
    group = ctx.address.is_group
    if ctx.member is None:
        return QUIET if group else Route(say(t("core.join_how")), event)
    if isinstance(event, ChoiceMade):
        return await _press(routes, event, ctx)
    if isinstance(event, LocationShared):
        handler = routes.locations.get(ctx.conversation.step) or routes.locations.get("")
        return Route(handler or say(t("core.location_unused")), event)
    if isinstance(event, FileReceived):
        step = ctx.conversation.step
        handler = routes.files.get(step) if step else routes.files.get("")
        if handler is not None:
            return Route(handler, event)
        return QUIET if group else Route(say(t("core.file_in_flow" if step else "core.file_unused")), event)
    return await _text(routes, event, ctx)


def _command(routes: Routes, ctx: Context, call: CommandCall) -> Route:
    command, group = routes.commands.get(call.name), ctx.address.is_group
    if command is None:  # in a group, « !foo » may be meant for another bot: only known commands are answered
        if group or ctx.member is None:
            return QUIET if group else Route(say(t("core.join_how")), call)
        allowed = [n for n, c in routes.commands.items() if c.allows(ctx.role, is_group=False)]
        suggestion = closest(call.name, allowed)
        key = "core.unknown_command_suggest" if suggestion else "core.unknown_command"
        return Route(say(t(key, command=call.name, suggestion=suggestion)), call)
    if ctx.member is None and command.anonymous and group and command.in_group and not ctx.address.user_id:
        return Route(command.handler, call)  # an anonymous group admin: the handler answers what the group may see
    if ctx.member is None and STRANGER not in command.roles:
        return Route(say(t("core.join_how")), call)
    if not command.allows(ctx.role, is_group=group):
        if ctx.role in command.roles:
            key = "core.command_private_only" if group else "core.command_group_only"
            return Route(say(t(key, command=call.name)), call)
        return Route(say(t("core.command_forbidden", command=call.name)), call)
    return Route(command.handler, call, leaves_flow=True, quietly=command.cancels)


async def _press(routes: Routes, event: ChoiceMade, ctx: Context) -> Route:
    conversation = ctx.conversation
    action = routes.actions.get(event.prompt_id)
    if action is not None:
        return Route(action, event)
    if event.prompt_id == conversation.prompt_id and conversation.find_choice(event.choice_id):
        handler = routes.choices.get(conversation.step)
        if handler is not None:
            return Route(handler, event, taken=event)
    if (done := conversation.already(event.prompt_id)) and done.choice_id == event.choice_id:
        notice = t("core.choice_done", label=done.label) if done.label else t("core.choice_done_plain")
        return Route(say(notice), event, accepted=False, notice=notice)
    if ctx.address.is_group and await prompt_owner(ctx.session, ctx.address, event.prompt_id):
        notice = t("core.choice_not_yours")
        return Route(say(notice), event, accepted=False, notice=notice)
    notice = t("core.choice_stale")
    return Route(say(notice), event, accepted=False, notice=notice)


async def _text(routes: Routes, event: TextReceived, ctx: Context) -> Route:
    conversation, group = ctx.conversation, ctx.address.is_group
    if group and not event.addressed:  # a colleague's chatter, or the asked person talking to others
        return QUIET
    if conversation.offered and (choice := match_choice(event.text, conversation.offered)):
        return await _press(routes, ChoiceMade(event.address, conversation.prompt_id, choice.id,
                                               event.message_id), ctx)
    handler = routes.steps.get(conversation.step) if conversation.step else None
    if handler is not None:
        return Route(handler, event)
    if conversation.step and conversation.offered:
        return Route(say(t("core.choose_one"), offer=True), event)
    if not conversation.step and (done := _repeated(event.text, ctx)):
        notice = t("core.choice_done", label=done.label) if done.label else t("core.choice_done_plain")
        return Route(say(notice), event)
    if group:
        return QUIET
    if conversation.expired_step:
        return Route(say(t("core.flow_expired")), event)
    return Route(say(t("core.not_understood")), event)


def _repeated(text: str, ctx: Context) -> Answered | None:
    """« Envoyer » or « 1 » typed again right after it was taken (a double send on Matrix, the console…): the
    answer it repeats. Once another question was shown, what is typed answers that one instead."""
    last = ctx.conversation.repeated()
    typed = text.strip()
    if last is None:
        return None
    if typed.isdigit():
        return last if last.number and int(typed) == last.number else None
    return last if last.label and match_choice(typed, [Choice(last.choice_id, last.label)]) else None
