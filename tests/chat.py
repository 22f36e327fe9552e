"""The fake transport at the outermost edge, and a Chat that talks through it like a person would."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from bot.context import Context
from bot.events import Address, ChoiceMade, Delivery, Event, FileReceived, LocationShared, Reply, TextReceived
from bot.form import Field, Form, Parsed, question
from bot.ratelimit import Limits
from bot.router import COORDINATORS, CommandCall, Router
from bot.transport import Commands, EventSink, Receipt, TransportError


@dataclass
class FakeTransport:
    """Records what the bot sends; can be told to fail the next N sends."""

    platform: str = "test"
    limits: Limits = field(default_factory=Limits)
    max_file_bytes: int = 10_000_000
    sent: list[Delivery] = field(default_factory=list)
    fail_next: int = 0
    retry_after: float | None = None
    started: bool = False

    def set_commands(self, commands: Commands, *, lasting_prompts: Set[str] = frozenset()) -> None:
        self.commands = commands

    async def start(self, sink: EventSink) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def healthy(self) -> bool:
        return True

    async def send(self, delivery: Delivery) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise TransportError("platform unreachable", retry_after=self.retry_after)
        self.sent.append(delivery)
        return str(len(self.sent))

    def to(self, chat_id: str) -> list[Reply]:
        return [d.reply for d in self.sent if d.address.chat_id == chat_id]


class Chat:
    """One person in one chat: `await chat.say("/aide")` returns the replies that message produced."""

    def __init__(self, app: App, transport: FakeTransport, user_id: str, *, chat_id: str | None = None,
                 is_group: bool = False, name: str = "Camille") -> None:
        self.app, self.transport = app, transport
        self.address = Address(transport.platform, chat_id or user_id, user_id, is_group, name)
        self._message = 0
        self.receipt = Receipt()

    async def say(self, text: str, *, addressed: bool = True) -> list[Reply]:
        """`addressed=False` in a group: a line said to the others, not a reply to the bot."""
        self._message += 1
        return await self._handle(TextReceived(self.address, text, self._next_id(), addressed))

    async def press(self, prompt_id: str, choice_id: str) -> list[Reply]:
        """Press a button of a given prompt (stale, double, someone else's…); `self.receipt` tells the verdict."""
        return await self._handle(ChoiceMade(self.address, prompt_id, choice_id, self._next_id()))

    async def send_file(self, kind: str = "photo", *, caption: str = "", data: bytes = b"\xff\xd8 jpeg",
                        mime: str = "image/jpeg", name: str = "photo.jpg", size: int | None = None) -> list[Reply]:
        """A photo (or document, voice note…); `data=b""` with a `size`: too big for the adapter to fetch."""
        event = FileReceived(self.address, kind, name, mime, len(data) if size is None else size, data, caption,
                             self._next_id())
        return await self._handle(event)

    async def pick(self, label: str) -> list[Reply]:
        """Press the button labelled `label` (or starting with it) on the newest reply that offers it."""
        for reply in reversed(self.transport.to(self.address.chat_id)):
            for choice in reply.choices:
                if choice.label == label or choice.label.startswith(label):
                    event = ChoiceMade(self.address, reply.prompt_id, choice.id, self._next_id())
                    return await self._handle(event)
        raise AssertionError(f"no button {label!r} was offered")

    async def share_location(self, lat: float, lon: float) -> list[Reply]:
        return await self._handle(LocationShared(self.address, lat, lon, self._next_id()))

    def _next_id(self) -> str:
        self._message += 1
        return str(self._message)

    async def _handle(self, event: Event) -> list[Reply]:
        before = len(self.transport.sent)
        self.receipt = await self.app.dispatcher.handle(event)
        return [d.reply for d in self.transport.sent[before:] if d.address.chat_id == self.address.chat_id]

    async def text(self, message: str) -> str:
        """Everything the bot answered to `message`, as one string (for simple assertions)."""
        return "\n".join(r.text for r in await self.say(message))


def note_router(notes: list[str]) -> Router:
    """A group flow like the coordinator's « Un mot pour le référent ? » (a test-only form; sent notes go to
    `notes`), for the engine and contract tests."""
    router = Router("group_note")

    async def read(text: str, _ctx: Context) -> Parsed:
        return Parsed.ok(text)

    async def summary(_ctx: Context, data: dict[str, Any]) -> str:
        return f"Note : {data['note']}"

    async def submit(_ctx: Context, data: dict[str, Any], _key: str) -> list[Reply]:
        notes.append(data["note"])
        return [Reply("Note envoyée.")]

    form = Form("note", (Field("note", "La note", question("Un mot pour le référent ?"), read=read),),
                summary=summary, submit=submit)
    form.register(router)

    @router.command("mot", roles=COORDINATORS, in_group=True)
    async def start(_call: CommandCall, ctx: Context) -> list[Reply]:
        return await form.start(ctx)

    return router
