"""Values that cross the transport boundary: incoming events and outgoing replies (string ids everywhere)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    """Where an event came from and where its answer goes."""

    platform: str  # "telegram" | "matrix" | "console" | "test"
    chat_id: str
    user_id: str
    is_group: bool = False
    display_name: str = ""  # as the platform gives it; never logged
    thread_id: str = ""  # Telegram forum topic / Matrix thread the message came from: answers go back there


@dataclass(frozen=True, slots=True)
class TextReceived:
    address: Address
    text: str
    message_id: str = ""
    # In a group: the message replies to one of the bot's messages or mentions the bot. Only such a message
    # may answer a question the bot asked there (a colleague's chatter is not an answer).
    addressed: bool = False


@dataclass(frozen=True, slots=True)
class ChoiceMade:
    """A button press (Telegram) or, after the core's mapping, a typed "2" or label."""

    address: Address
    prompt_id: str
    choice_id: str
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class LocationShared:
    address: Address
    lat: float
    lon: float
    message_id: str = ""


@dataclass(frozen=True, slots=True)
class FileReceived:
    """A photo, document, voice note… `data` is empty when the adapter did not fetch it (over `max_bytes`)."""

    address: Address
    kind: str  # "photo" | "document" | "voice" | "audio" | "video" | "sticker" | "other"
    name: str
    mime: str
    size: int
    data: bytes = b""
    caption: str = ""
    message_id: str = ""


Event = TextReceived | ChoiceMade | LocationShared | FileReceived


@dataclass(frozen=True, slots=True)
class Choice:
    id: str  # short, ascii, stable: fits Telegram's 64-byte callback data with the prompt id
    label: str
    aliases: tuple[str, ...] = ()  # other words typed for it (« oui », « ok » for « Envoyer »)


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to show. `text` uses a small safe markup: **bold**, _italic_, [label](url), "- " lists.

    Adapters render it natively; everything else in the text is literal and must be escaped by them.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    attachment: Attachment | None = None
    prompt_id: str = ""  # set by the core when choices are offered
    choices_per_row: int = 1
    # A question whose answer is typed. In a group, adapters make sure the answer can reach the bot and comes
    # from the person asked: Telegram a selective ForceReply, Matrix a mention and « répondez à ce message ».
    expects_answer: bool = False
    # Set on messages the person must not miss (reminders, follow-ups, alerts): Matrix sends them as m.text
    # (notices never ring, `.m.rule.suppress_notices`), Telegram without disable_notification.
    notify: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """A reply bound for one chat, as handed to a transport."""

    address: Address
    reply: Reply
    reply_to: str = ""  # platform message id this answers, if any
    key: str = ""  # the outbox key: stable across retries, for platforms that de-duplicate sends (Matrix txn id)
