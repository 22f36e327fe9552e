"""The Transport protocol every platform adapter implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Set
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.events import Delivery, Event
from bot.ratelimit import Limits


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the core made of an event, for adapters that acknowledge a press natively (Telegram's pop-up, the
    « ✓ » on the chosen button): mark a button chosen only when `accepted`; show `notice` in the pop-up."""

    accepted: bool = True  # False: stale, double, someone else's prompt, or refused: leave the keyboard as it is
    notice: str = ""  # a few French words for the pop-up; the full answer still comes as a message


EventSink = Callable[[Event], Awaitable[Receipt]]
# Command menus by scope ("private", "group"): (command name, one-line French description).
Commands = dict[str, list[tuple[str, str]]]


class TransportError(Exception):
    """A send that did not reach the platform. `retry_after` (seconds) when the platform said when to retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 moved_to: str = "", gone: bool = False, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent  # e.g. the user blocked the bot: retrying will never help
        self.moved_to = moved_to  # the chat's new id (a Telegram group upgraded to a supergroup): send there
        self.gone = gone  # the bot was removed from the group or blocked by the person: stop writing there
        self.rate_limited = rate_limited  # HTTP 429: the outbox learns the platform's pace from it


@runtime_checkable
class Transport(Protocol):
    """A chat platform seen by the core.

    `start(sink)` begins receiving and calls `sink(event)` for each incoming event; `send` delivers one
    reply and returns the platform message id, or raises TransportError. Adapters keep no feature logic.
    """

    platform: str
    limits: Limits  # what the platform tolerates; the outbox paces itself on it
    max_file_bytes: int  # the largest incoming file the adapter fetches (0: files are not read)

    def set_commands(self, commands: Commands, *, lasting_prompts: Set[str] = frozenset()) -> None:
        """Command menus to publish at start (where the platform shows them) and the prompt ids of stateless
        buttons that stay valid after a press (reminders' RSVP). A platform without menus ignores them."""

    async def start(self, sink: EventSink) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, delivery: Delivery) -> str: ...

    def healthy(self) -> bool: ...
