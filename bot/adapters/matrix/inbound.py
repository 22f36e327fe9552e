"""What the bot hears in a Matrix room: texts, shared locations and files turned into core events."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nio import (
    MatrixRoom,
    RoomEncryptedMedia,
    RoomMemberEvent,
    RoomMessageMedia,
    RoomMessageText,
    RoomMessageUnknown,
)
from nio.events import Event as NioEvent

from bot.events import Address, Event, FileReceived, LocationShared, TextReceived

_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


_FILE_KINDS = {"m.image": "photo", "m.file": "document", "m.audio": "audio", "m.video": "video"}
_FILES = (RoomMessageMedia, RoomEncryptedMedia)


@dataclass(frozen=True, slots=True)
class Hearing:
    """What the adapter knows beyond the event: whether the room is private with the sender, the bot's events."""

    own_user: str
    private: bool | None = None  # None: judged by the member count alone (two members: private)
    ours: Callable[[str], bool] = lambda _event_id: False


def address(room: MatrixRoom, sender: str, private: bool | None = None, thread_id: str = "") -> Address:
    """A private room is one with just the person and the bot, opened as a direct chat; any other is a group."""
    name = room.user_name(sender) or ""
    if not name or name == sender:  # no display name set: the localpart reads better than the full id
        name = sender.partition(":")[0].lstrip("@")
    is_group = room.joined_count > 2 if private is None else not private
    return Address("matrix", room.room_id, sender, is_group, name, thread_id)


def to_event(room: MatrixRoom, event: NioEvent, own_user: str, hearing: Hearing | None = None) -> Event | None:
    """An m.text from someone else, a shared location or a file; None for everything the core does not hear.

    Notices (other bots, our own) and edits are ignored: an edited command must not run a second time.
    """
    hearing = hearing or Hearing(own_user)
    if event.sender == own_user or _relation(event.source) == "m.replace":
        return None
    where = address(room, event.sender, hearing.private, _thread(event.source))
    if isinstance(event, RoomMessageText):
        body = _without_reply_fallback(event.body, event.source)
        text = _without_mention(body, room, own_user)
        addressed = where.is_group and (text != body or _for_bot(event.source, event.body, hearing))
        return TextReceived(where, text, event.event_id, addressed) if text.strip() else None
    if isinstance(event, _FILES):
        return _file(where, event)
    if isinstance(event, RoomMessageUnknown) and event.msgtype == "m.location":
        match = _GEO.match(str(event.content.get("geo_uri", "")))
        if match:
            lat, lon = float(match[1]), float(match[2])
            return LocationShared(where, lat, lon, event.event_id)
    return None


def _file(where: Address, event: RoomMessageMedia | RoomEncryptedMedia) -> FileReceived:
    """The file as the core sees it, not fetched yet (`data` empty); the adapter downloads it if not too big."""
    content = event.source.get("content", {})
    msgtype = str(content.get("msgtype", ""))
    kind = _FILE_KINDS.get(msgtype, "other")
    if msgtype == "m.audio" and ("org.matrix.msc3245.voice" in content or "voice" in content):
        kind = "voice"
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    name = str(content.get("filename") or event.body or "fichier")
    caption = event.body if content.get("filename") and event.body != content.get("filename") else ""
    size = int(info["size"]) if isinstance(info.get("size"), int) else 0
    return FileReceived(where, kind, name, str(info.get("mimetype") or "application/octet-stream"), size,
                        caption=caption, message_id=event.event_id)


def _thread(source: dict[str, Any]) -> str:
    relates = source.get("content", {}).get("m.relates_to") or {}
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        return str(relates.get("event_id", ""))
    return ""


def _for_bot(source: dict[str, Any], body: str, hearing: Hearing) -> bool:
    """A mention of the bot (m.mentions, as clients set it for replies too) or a reply to one of its events."""
    content = source.get("content", {})
    mentions = content.get("m.mentions") or {}
    if isinstance(mentions, dict) and hearing.own_user in (mentions.get("user_ids") or []):
        return True
    relates = content.get("m.relates_to") or {}
    replied = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
    if isinstance(replied, dict) and relates.get("is_falling_back") is not True:
        return hearing.ours(str(replied.get("event_id", ""))) or body.startswith(f"> <{hearing.own_user}>")
    return hearing.own_user in str(content.get("formatted_body", ""))


def after_own_arrival(events: Sequence[NioEvent], own_user: str) -> Sequence[NioEvent]:
    """In the sync that brings a newly joined room, only what was said once the bot was invited counts.

    The room's older history (a coordination room's past commands) comes along in that timeline: skip it.
    """
    joined = [i for i, e in enumerate(events) if _own_membership(e, own_user, "join")]
    if not joined:
        return events
    invited = [i for i in range(joined[-1]) if _own_membership(events[i], own_user, "invite")]
    return events[(invited[-1] if invited else joined[-1]) + 1:]


def _own_membership(event: NioEvent, own_user: str, membership: str) -> bool:
    return (isinstance(event, RoomMemberEvent) and event.state_key == own_user
            and event.membership == membership and event.prev_membership != membership)


def _relation(source: dict[str, Any]) -> str:
    relates = source.get("content", {}).get("m.relates_to") or {}
    return str(relates.get("rel_type", "")) if isinstance(relates, dict) else ""


def _without_reply_fallback(body: str, source: dict[str, Any]) -> str:
    """A reply's body may start with the quoted message ("> <@bot:…> …" lines, then a blank line): drop it."""
    relates = source.get("content", {}).get("m.relates_to") or {}
    if not isinstance(relates, dict) or "m.in_reply_to" not in relates or not body.startswith("> "):
        return body
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")


def _without_mention(text: str, room: MatrixRoom, own_user: str) -> str:
    """"relais: !aide" (a client's mention pill) -> "!aide", so a command addressed to the bot is one."""
    names = {own_user, own_user.partition(":")[0].lstrip("@"), room.user_name(own_user) or ""}
    stripped = text.lstrip()
    for name in sorted(filter(None, names), key=len, reverse=True):
        if stripped.lower().startswith(name.lower()) and stripped[len(name):len(name) + 1] in (":", ","):
            return stripped[len(name) + 1:].lstrip()
    return text
