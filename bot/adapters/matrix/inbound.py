"""What the bot hears in a Matrix room: texts (and shared locations) turned into core events."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from nio import MatrixRoom, RoomMemberEvent, RoomMessageText, RoomMessageUnknown
from nio.events import Event as NioEvent

from bot.events import Address, Event, LocationShared, TextReceived

_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def address(room: MatrixRoom, sender: str) -> Address:
    """A DM has two joined members (the person and the bot); more than two is a group room."""
    name = room.user_name(sender) or ""
    if not name or name == sender:  # no display name set: the localpart reads better than the full id
        name = sender.partition(":")[0].lstrip("@")
    return Address("matrix", room.room_id, sender, room.joined_count > 2, name)


def to_event(room: MatrixRoom, event: NioEvent, own_user: str) -> Event | None:
    """An m.text from someone else, or a shared location; None for everything the core does not hear.

    Notices (other bots, our own) and edits are ignored: an edited command must not run a second time.
    """
    if event.sender == own_user or _relation(event.source) == "m.replace":
        return None
    if isinstance(event, RoomMessageText):
        text = _without_mention(_without_reply_fallback(event.body, event.source), room, own_user)
        return TextReceived(address(room, event.sender), text, event.event_id) if text.strip() else None
    if isinstance(event, RoomMessageUnknown) and event.msgtype == "m.location":
        match = _GEO.match(str(event.content.get("geo_uri", "")))
        if match:
            lat, lon = float(match[1]), float(match[2])
            return LocationShared(address(room, event.sender), lat, lon, event.event_id)
    return None


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
