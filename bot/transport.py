"""The Transport protocol every platform adapter implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from bot.events import Delivery, Event

EventSink = Callable[[Event], Awaitable[None]]


class TransportError(Exception):
    """A send that did not reach the platform. `retry_after` (seconds) when the platform said when to retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent  # e.g. the user blocked the bot: retrying will never help


@runtime_checkable
class Transport(Protocol):
    """A chat platform seen by the core.

    `start(sink)` begins receiving and calls `sink(event)` for each incoming event; `send` delivers one
    reply and returns the platform message id, or raises TransportError. Adapters keep no feature logic.
    """

    platform: str

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, delivery: Delivery) -> str: ...

    def healthy(self) -> bool: ...
