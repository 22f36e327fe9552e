"""Which room is the private room with whom: it follows membership, not the room where `!start` was typed.

A room is private with a person when it was opened as a direct chat (`is_direct` on the bot's invitation, or a
room the bot opened) and its members are exactly the bot and that person. Learned from the sync, kept in
direct.json beside the login, so a restart forgets nothing."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomPreset,
    SyncResponse,
)

log = logging.getLogger(__name__)

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class DirectRooms:
    """room id -> the person a direct room was opened with; the newest room per person is the current one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._person: dict[str, str] = self._load()

    def person(self, room_id: str) -> str:
        return self._person.get(room_id, "")

    def mark(self, room_id: str, user_id: str) -> None:
        if self._person.get(room_id) != user_id:
            self._person.pop(room_id, None)
            self._person[room_id] = user_id  # last inserted: the current room for this person
            self._save()

    def forget(self, room_id: str) -> None:
        if self._person.pop(room_id, None) is not None:
            self._save()

    def private(self, room: MatrixRoom, user_id: str, *, invited_ok: bool = False) -> bool:
        """A direct room with this person whose members are exactly the bot and them (invited, if allowed)."""
        if not user_id or self.person(room.room_id) != user_id:
            return False
        invited = set(room.invited_users)
        joined = set(room.users) - invited
        if room.own_user_id not in joined:  # members not loaded yet (a sync resumed after a restart)
            return room.joined_count <= 2 and not room.invited_count
        others = joined - {room.own_user_id}
        if others == {user_id}:
            return not (invited - {user_id})
        return invited_ok and not others and invited == {user_id}

    def current(self, rooms: dict[str, MatrixRoom], user_id: str) -> str:
        """The newest direct room that is still private with this person ("" when there is none)."""
        for room_id, person in reversed(self._person.items()):
            room = rooms.get(room_id)
            if person == user_id and room is not None and self.private(room, user_id, invited_ok=True):
                return room_id
        return ""

    def learn(self, response: SyncResponse, own_user: str, rooms: dict[str, MatrixRoom]) -> None:
        """`is_direct` on the bot's invitation (or, for rooms joined earlier, on the invitation its join
        replaced) marks the room as the direct room with the inviter / the other member."""
        for room_id, invite in response.rooms.invite.items():
            for event in invite.invite_state:
                if (isinstance(event, InviteMemberEvent) and event.state_key == own_user
                        and event.membership == "invite" and event.content.get("is_direct") is True):
                    self.mark(room_id, event.sender)
        for room_id, info in response.rooms.join.items():
            if room_id in self._person:
                continue
            for event in [*info.state, *info.timeline.events]:
                if isinstance(event, RoomMemberEvent) and event.state_key == own_user and _direct(event):
                    self._mark_other(rooms.get(room_id), room_id, own_user)
                elif isinstance(event, RoomMemberEvent) and _opened_by(event, own_user):
                    self.mark(room_id, event.state_key)

    def _mark_other(self, room: MatrixRoom | None, room_id: str, own_user: str) -> None:
        others = set(room.users) - {own_user} if room is not None else set()
        if len(others) == 1:
            self.mark(room_id, others.pop())

    def _load(self) -> dict[str, str]:
        try:
            data: Any = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(self._person, stream)
        os.replace(temporary, self.path)


def _direct(event: RoomMemberEvent) -> bool:
    previous = event.prev_content or {}
    return event.content.get("is_direct") is True or (
        event.membership == "join" and previous.get("membership") == "invite" and previous.get("is_direct") is True)


def _opened_by(event: RoomMemberEvent, own_user: str) -> bool:
    """The bot's own invitation of someone to a direct room (a room it opened, in this run or an earlier one)."""
    direct = event.content.get("is_direct") is True or (event.prev_content or {}).get("is_direct") is True
    invited = event.membership == "invite" or (event.prev_content or {}).get("membership") == "invite"
    return direct and invited and event.sender == own_user and event.state_key != own_user


async def open_direct_room(client: AsyncClient, user_id: str, encrypted: bool) -> str:
    """A new direct room with the person invited (encrypted like the room it replaces); "" when refused."""
    response = await client.room_create(is_direct=True, preset=RoomPreset.trusted_private_chat, invite=[user_id],
                                        initial_state=[ENCRYPTION] if encrypted else [])
    if not isinstance(response, RoomCreateResponse):
        log.warning("matrix: could not open a private room (%s)", response)
        return ""
    log.info("matrix: opened a new private room with a member")
    return response.room_id


async def leave_empty_rooms(client: AsyncClient, response: SyncResponse, direct: DirectRooms) -> None:
    """Rooms this sync shows the bot alone in (everyone else left, nobody invited): leave and forget them."""
    for room_id, info in response.rooms.join.items():
        room = client.rooms.get(room_id)
        departures = any(isinstance(e, RoomMemberEvent) and e.membership in ("leave", "ban")
                         for e in [*info.state, *info.timeline.events])
        if room is None or not departures or set(room.users) != {client.user_id} or room.invited_users:
            continue
        await client.room_leave(room_id)
        await client.room_forget(room_id)
        direct.forget(room_id)
        log.info("matrix: left a room where the bot was alone")
