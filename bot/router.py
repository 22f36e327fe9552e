"""Command, step, choice and action matching; each feature registers its handlers on a Router of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.events import Reply

if TYPE_CHECKING:
    from bot.context import Context

HandlerResult = Reply | list[Reply] | None
Handler = Callable[[Any, "Context"], Awaitable[HandlerResult]]
H = TypeVar("H", bound=Handler)
JobRun = Callable[[Any], Awaitable[None]]
J = TypeVar("J", bound=JobRun)

STRANGER = "stranger"
MEMBERS = ("referent", "coordinator", "admin")
COORDINATORS = ("coordinator", "admin")
ADMINS = ("admin",)


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

    def allows(self, role: str, *, is_group: bool) -> bool:
        return role in self.roles and (self.in_group if is_group else self.in_private)


class Router:
    """A feature's handlers; registration returns the function unchanged so tests call it directly."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Command] = {}
        self.steps: dict[str, Handler] = {}  # text typed while in a step
        self.choices: dict[str, Handler] = {}  # a choice made while in a step
        self.locations: dict[str, Handler] = {}  # a location shared while in a step ("" = anywhere)
        self.actions: dict[str, Handler] = {}  # stateless buttons: prompt ids such as "rsvp"
        self.jobs: dict[str, Job] = {}

    def command(self, name: str, *, roles: Iterable[str] = MEMBERS, help_key: str = "", example_key: str = "",
                in_private: bool = True, in_group: bool = False, aliases: Iterable[str] = (),
                order: int = 100) -> Callable[[H], H]:
        def register(handler: H) -> H:
            spec = Command(name, handler, tuple(roles), help_key, example_key, in_private, in_group,
                           tuple(aliases), order)
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
    """All routers of the application merged, with the lookups the dispatcher needs."""

    def __init__(self, routers: Iterable[Router]) -> None:
        self.commands: dict[str, Command] = {}
        self.steps: dict[str, Handler] = {}
        self.choices: dict[str, Handler] = {}
        self.locations: dict[str, Handler] = {}
        self.actions: dict[str, Handler] = {}
        self.jobs: dict[str, Job] = {}
        for router in routers:
            for table in ("commands", "steps", "choices", "locations", "actions", "jobs"):
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

