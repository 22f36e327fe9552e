"""The real adapters driven as people would: the Telegram harness (PTB's real HTTP stack against the fake Bot
API) and the Matrix bot and person (a real Synapse), shared with their own tests; and, for the contract suite,
one small driver per platform (console, Telegram, Matrix) with the same verbs: say, press, press an old
message, hear, restart the bot on the same database, meet in a group."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom, RoomCreateResponse, RoomMessage, RoomPreset
from sqlalchemy import func, select

from bot.adapters.console import ConsoleTransport
from bot.adapters.matrix.adapter import MatrixTransport
from bot.adapters.matrix.session import MatrixConfig
from bot.adapters.telegram.adapter import TelegramTransport
from bot.app import App, feature_routers
from bot.clock import Clock
from bot.config import Settings
from bot.router import Router
from bot.transport import Transport
from storage.members import create_invitation
from storage.models import OutboxMessage
from storage.territories import by_code
from tests.fakes.telegram_api import FakeTelegram, FakeUser, SentMessage
from tests.servers.nio_helpers import create_dm, make_client, send_text, sync_until
from tests.servers.synapse import SynapseServer

# --- Telegram ----------------------------------------------------------------------------------------------

TOKEN = "123456:TEST-token"
TELEGRAM_WAIT = 30.0  # upper bound of every wait (retries under faults take a few seconds); never a timed assertion


@dataclass
class Harness:
    """The bot running in this loop (App.serve: adapter, dispatcher, outbox worker) and the fake it talks to."""

    fake: FakeTelegram
    app: App
    transport: TelegramTransport

    async def invite(self, role: str = "referent", territory: str = "35-fougeres") -> str:
        async with self.app.sessions() as session, session.begin():
            place = await by_code(session, territory)
            assert place is not None
            return (await create_invitation(session, role=role, territory_id=place.id,
                                            now=self.app.clock.now())).code

    async def join(self, user: FakeUser, role: str = "referent") -> None:
        code = (await self.invite(role)).replace("-", "")  # as a t.me deep link delivers it
        await self.ask(user, f"/start {code}", "Bienvenue")

    async def ask(self, user: FakeUser, text: str, expect: str) -> SentMessage:
        """Say `text`; return the first new message of the chat containing `expect`."""
        before = self.fake.sent_count(user.chat_id)
        await user.say(text)
        return await self.answer(user, before, expect)

    async def press(self, user: FakeUser, label: str, expect: str) -> SentMessage:
        """Press the button labelled `label` (or starting with it) on the newest message that offers it."""
        offers = [(m, b) for m in self.fake.sent_to(user.chat_id) for b in m.labels if b.startswith(label)]
        assert offers, f"no button {label!r} in chat {user.chat_id}"
        before = self.fake.sent_count(user.chat_id)
        await user.press(*offers[-1])
        return await self.answer(user, before, expect)

    async def answer(self, user: FakeUser, before: int, expect: str) -> SentMessage:
        return await answer(self.fake, user.chat_id, before, expect)

    async def pending(self) -> int:
        async with self.app.sessions() as session:
            query = select(func.count()).select_from(OutboxMessage).where(  # the demo's console members: not here
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
                OutboxMessage.platform == "telegram")
            return int((await session.execute(query)).scalar_one())

    async def settled(self) -> None:
        """Wait until the outbox holds nothing more to send."""
        for _ in range(int(TELEGRAM_WAIT * 10)):
            if not await self.pending():
                return
            await asyncio.sleep(0.1)
        async with self.app.sessions() as session:
            rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None),
                                                                      OutboxMessage.failed_at.is_(None)))).scalars()
            raise TimeoutError(f"the outbox did not drain: {[(r.key, r.chat_id, r.last_error) for r in rows]}")


async def answer(fake: FakeTelegram, chat_id: int, before: int, expect: str) -> SentMessage:
    """The first message sent to the chat after the first `before` that contains `expect` (waited for)."""
    def found() -> SentMessage | None:
        return next((m for m in fake.sent_to(chat_id)[before:] if expect in m.plain_text), None)

    message = await fake.wait_for(found, TELEGRAM_WAIT)
    assert message is not None
    return message


@asynccontextmanager
async def running(settings: Settings, fake: FakeTelegram, *, routers: Sequence[Router] | None = None,
                  clock: Clock | None = None, **options: Any) -> AsyncIterator[Harness]:
    """`clock`: a FrozenClock to move the scheduler's time (its jobs then run on `app.scheduler.tick()`)."""
    transport = TelegramTransport(TOKEN, api_url=fake.api_url, poll_timeout=1, **options)
    app = App(settings, clock=clock, transports=[transport], routers=routers)
    await app.prepare()
    stop = asyncio.Event()
    serving = asyncio.create_task(app.serve(stop))
    try:
        for _ in range(int(TELEGRAM_WAIT * 100)):  # the fake's wait_for wakes on requests: a webhook bot makes none
            if transport.healthy() or serving.done():
                break
            await asyncio.sleep(0.01)
        assert transport.healthy(), serving
        yield Harness(fake, app, transport)
    finally:
        stop.set()
        await serving
        await app.close()
    assert fake.errors == []



# --- Matrix ------------------------------------------------------------------------------------------------

MATRIX_WAIT = 20.0  # seconds to wait for a reply; the first encrypted message waits for key sharing


def unique_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


class MatrixBot:
    """The whole application with the Matrix adapter only, started and stopped like `relais run` does."""

    def __init__(self, synapse: SynapseServer, data: Path, *, allowed: str = "", by_token: bool = False,
                 routers: Sequence[Router] | None = None) -> None:
        self.user_id, self.token = synapse.register(unique_name("relais"), "bot-password")
        self.settings = Settings(database_url=f"sqlite:///{data / 'relais.db'}", data_dir=data / "data",
                                 matrix_homeserver=synapse.url, matrix_user=self.user_id,
                                 matrix_password="" if by_token else "bot-password",
                                 matrix_access_token=self.token if by_token else "",
                                 matrix_allowed_servers=allowed, demo_content=False,
                                 _env_file=None)  # type: ignore[call-arg]
        self.routers = list(routers) if routers is not None else feature_routers()  # as `relais run`
        self.app: App | None = None
        self.transport: MatrixTransport | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, timeline_limit: int = 200) -> None:
        self.transport = MatrixTransport(MatrixConfig.from_settings(self.settings), timeline_limit=timeline_limit)
        self.app = App(self.settings, transports=[self.transport], routers=self.routers)
        await self.app.prepare()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.app.serve(self._stop))
        await asyncio.wait_for(self.transport.ready.wait(), MATRIX_WAIT)

    async def stop(self) -> None:
        if self._task is None or self.app is None:
            return
        self._stop.set()
        await self._task
        await self.app.close()
        self._task = None

    async def invitation(self, role: str = "referent") -> str:
        assert self.app is not None
        async with self.app.sessions() as session, session.begin():
            territory = await by_code(session, "35-fougeres")
            assert territory is not None
            new = await create_invitation(session, role=role, territory_id=territory.id, now=self.app.clock.now())
            return new.code

    async def count(self, model: type) -> int:
        assert self.app is not None
        async with self.app.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class MatrixPerson:
    """A Matrix user (an E2E-capable nio client) talking to the bot; remembers everything the bot said."""

    def __init__(self, client: AsyncClient, bot_id: str, token: str) -> None:
        self.client, self.bot_id, self.token = client, bot_id, token
        self.room_id = ""
        self.heard: list[tuple[str, RoomMessage]] = []
        self._read: dict[str, int] = {}
        client.add_event_callback(self._record, RoomMessage)

    def _record(self, room: MatrixRoom, event: RoomMessage) -> None:
        if event.sender == self.bot_id:
            self.heard.append((room.room_id, event))

    def from_bot(self, room_id: str = "") -> list[RoomMessage]:
        return [e for r, e in self.heard if r == (room_id or self.room_id)]

    async def open_dm(self, *, encrypted: bool) -> str:
        self.room_id = await create_dm(self.client, self.bot_id, encrypted=encrypted)
        await self.sees_bot_join(self.room_id)
        return self.room_id

    async def sees_bot_join(self, room_id: str) -> None:
        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and self.bot_id in room.users and self.bot_id not in room.invited_users

        await sync_until(self.client, joined, MATRIX_WAIT, what="the bot joined")

    async def say(self, text: str, room_id: str = "") -> None:
        await send_text(self.client, room_id or self.room_id, text, keys_timeout=MATRIX_WAIT)

    async def hears(self, needle: str, room_id: str = "", timeout: float = 0) -> RoomMessage:
        """The bot's next message in the room containing `needle` (earlier ones it skips are read too)."""
        room = room_id or self.room_id
        found: list[RoomMessage] = []

        def arrived() -> bool:
            messages = self.from_bot(room)
            for index in range(self._read.get(room, 0), len(messages)):
                if needle in getattr(messages[index], "body", ""):
                    self._read[room] = index + 1
                    found.append(messages[index])
                    return True
            return False

        await sync_until(self.client, arrived, timeout or MATRIX_WAIT, what=f"a reply with {needle!r}")
        return found[0]

    async def ask(self, text: str, needle: str, room_id: str = "") -> RoomMessage:
        await self.say(text, room_id)
        return await self.hears(needle, room_id)

    async def settle(self, seconds: float = 1.5) -> None:
        """Keep syncing a moment, so that a duplicate the bot might send would be seen."""
        with contextlib.suppress(TimeoutError):
            await sync_until(self.client, lambda: False, seconds)




async def send_reply(client: AsyncClient, room_id: str, text: str, event_id: str) -> str:
    """A reply to `event_id` as Element sends it (m.in_reply_to); the room is unencrypted (the group rooms here)."""
    content = {"msgtype": "m.text", "body": text, "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}}
    response = await client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
    event = getattr(response, "event_id", None)
    assert isinstance(event, str), response
    return event


# --- one person, any platform: the contract suite's drivers ----------------------------------------------------

CONTRACT_WAIT = 20.0  # upper bound of a wait for the bot's answer (never a timed assertion)
_NUMBERED = re.compile(r"^\s*(\d+)\. (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Seen:
    """A message of the bot as the person sees it: its text (where the platform has no buttons, the choices are
    numbered in it), the buttons under it, and the platform's own handle on it (to press it or reply to it)."""

    text: str
    buttons: tuple[str, ...]
    handle: Any

    def choices(self) -> list[str]:
        if self.buttons:
            return list(self.buttons)
        numbered = _NUMBERED.findall(self.text)  # the choices are the last list numbered from 1 (a card above
        start = max((i for i, (n, _) in enumerate(numbered) if n == "1"), default=0)  # them may be numbered too)
        return [label.strip() for _, label in numbered[start:]]

    def number(self, label: str) -> int:
        """The 1-based position of the choice labelled `label` (or starting with it)."""
        choices = self.choices()
        found = next((i for i, c in enumerate(choices) if c == label), None)
        found = found if found is not None else next((i for i, c in enumerate(choices) if c.startswith(label)), None)
        assert found is not None, f"no choice {label!r} in {choices}"
        return found + 1


class Speaker:
    """One person in one chat (private or group). Where the platform has no buttons, pressing is typing the
    number; in a group, answering the bot is replying to its message (what reaches it and says who answers)."""

    platform = ""
    in_group = False

    def __init__(self) -> None:
        self._read = 0

    # what each platform provides
    def messages(self) -> list[Seen]:
        raise NotImplementedError

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        raise NotImplementedError

    async def send(self, text: str) -> None:
        """A message to the chat (in a group: said to everyone, not a reply to the bot)."""
        raise NotImplementedError

    async def reply(self, text: str, to: Seen) -> None:
        raise NotImplementedError(f"no groups on {self.platform}")

    async def settle(self) -> None:
        """Let whatever the bot might still say arrive (to check that something was NOT answered)."""
        raise NotImplementedError

    async def press_on(self, seen: Seen, label: str) -> None:
        """Press `label` on that message, however old (typed platforms: type the number it had there)."""
        number = str(seen.number(label))
        await (self.reply(number, seen) if self.in_group else self.send(number))

    # the verbs of the scenarios
    async def say(self, text: str, expect: str) -> Seen:
        await self.send(text)
        return await self.hears(expect)

    async def answer(self, text: str, to: Seen, expect: str) -> Seen:
        await self.reply(text, to)
        return await self.hears(expect)

    async def press(self, label: str, expect: str) -> Seen:
        """Press `label` on the newest message that offers it, then wait for the answer containing `expect`."""
        offers = [m for m in self.messages() if any(c.startswith(label) for c in m.choices())]
        assert offers, f"no choice {label!r} offered on {self.platform}"
        await self.press_on(offers[-1], label)
        return await self.hears(expect)

    async def hears(self, needle: str) -> Seen:
        """The bot's next message containing `needle` (the ones before it are passed over)."""
        found: list[Seen] = []

        def arrived() -> bool:
            messages = self.messages()
            for index in range(self._read, len(messages)):
                if needle in messages[index].text:
                    self._read = index + 1
                    found.append(messages[index])
                    return True
            return False

        await self.wait(arrived, f"a reply with {needle!r}")
        return found[0]

    def mark(self) -> int:
        return len(self.messages())

    def since(self, mark: int) -> list[str]:
        """The texts of the bot's messages from `mark` on, as they read now."""
        return [m.text for m in self.messages()[mark:]]

    def caught_up(self) -> None:
        self._read = len(self.messages())


# console ----------------------------------------------------------------------------------------------------

class Screen(io.StringIO):
    """The console's stdout: one write per message the bot prints."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []

    def write(self, text: str) -> int:
        self.blocks.append(text.rstrip("\n"))
        return len(text)


class ConsoleStage:
    """`relais console` in this process: lines typed into a pipe, the bot's answers read from its stdout.
    `clock` (a FrozenClock) and `beside` (e.g. a FakeTransport for the other members) are kept across restarts."""

    platform = "console"

    def __init__(self, settings: Settings, routers: Sequence[Router] | None, files: Path, *,
                 clock: Clock | None = None, beside: Sequence[Transport] = ()) -> None:
        self.settings, self.routers, self.files = settings, routers, files
        self.clock, self.beside = clock, beside
        self.screen = Screen()
        self.app: App | None = None
        self._keyboard: io.TextIOWrapper | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._people = 0

    async def start(self) -> None:
        read, write = os.pipe()
        self._keyboard = os.fdopen(write, "w", encoding="utf-8")
        transport = ConsoleTransport("console-person", stdin=os.fdopen(read, "r", encoding="utf-8"),
                                     stdout=self.screen, files_dir=self.files)
        self.app = App(self.settings, clock=self.clock, transports=[transport, *self.beside], routers=self.routers)
        await self.app.prepare()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.app.serve(self._stop))

    async def close(self) -> None:
        if self._task is None or self.app is None or self._keyboard is None:
            return
        self._keyboard.close()  # end of input: the reader stops
        self._stop.set()
        await self._task
        await self.app.close()
        self._task = None

    async def restart(self) -> None:
        await self.close()
        await self.start()

    def type(self, text: str) -> None:
        assert self._keyboard is not None
        self._keyboard.write(text + "\n")
        self._keyboard.flush()

    async def person(self, role: str = "referent", name: str = "Camille") -> Speaker:
        self._people += 1
        assert self._people == 1, "the console is one person"
        assert self.app is not None
        speaker = ConsoleSpeaker(self)
        await speaker.say(f"/start {await invite(self.app, role)}", "Bienvenue")
        return speaker

    async def group(self, *people: Speaker) -> list[Speaker]:
        raise NotImplementedError("the console is one person in a private chat")


class ConsoleSpeaker(Speaker):
    platform = "console"

    def __init__(self, stage: ConsoleStage) -> None:
        super().__init__()
        self.stage = stage

    def messages(self) -> list[Seen]:
        return [Seen(block, (), index) for index, block in enumerate(self.stage.screen.blocks)]

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        for _ in range(int(CONTRACT_WAIT * 50)):
            if predicate():
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"console: {what} not printed; last: {self.stage.screen.blocks[-3:]}")

    async def send(self, text: str) -> None:
        self.stage.type(text)

    async def settle(self) -> None:
        assert self.stage.app is not None
        await asyncio.sleep(0.3)  # a line still being read
        await self.stage.app.dispatcher.drain()


async def invite(app: App, role: str, territory: str = "35-fougeres") -> str:
    async with app.sessions() as session, session.begin():
        place = await by_code(session, territory)
        assert place is not None
        return (await create_invitation(session, role=role, territory_id=place.id, now=app.clock.now())).code


# Telegram ---------------------------------------------------------------------------------------------------

class TelegramStage:
    """The bot on PTB's real HTTP stack against the fake Bot API (privacy mode on, as the README advises)."""

    platform = "telegram"

    def __init__(self, settings: Settings, fake: FakeTelegram, routers: Sequence[Router]) -> None:
        self.settings, self.fake, self.routers = settings, fake, routers
        self.harness: Harness | None = None
        self._running = AsyncExitStack()
        self._ids = itertools.count(8001)

    @property
    def app(self) -> App:
        assert self.harness is not None
        return self.harness.app

    async def start(self) -> None:
        self._running = AsyncExitStack()
        self.harness = await self._running.enter_async_context(running(self.settings, self.fake,
                                                                       routers=self.routers))

    async def close(self) -> None:
        await self._running.aclose()

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def person(self, role: str = "referent", name: str = "Camille") -> TelegramSpeaker:
        assert self.harness is not None
        user = self.fake.user(next(self._ids), name)
        await self.harness.join(user, role)
        speaker = TelegramSpeaker(self, user)
        speaker.caught_up()
        return speaker

    async def group(self, *people: Speaker) -> list[Speaker]:
        group = self.fake.group(-100_000_000 - next(self._ids), "Coordination Fougères", "supergroup")
        members = [p.user for p in people if isinstance(p, TelegramSpeaker)]
        return [TelegramSpeaker(self, group.member(u.id, u.user["first_name"]), in_group=True) for u in members]


class TelegramSpeaker(Speaker):
    platform = "telegram"

    def __init__(self, stage: TelegramStage, user: FakeUser, *, in_group: bool = False) -> None:
        super().__init__()
        self.stage, self.user, self.in_group = stage, user, in_group

    def messages(self) -> list[Seen]:
        return [Seen(m.plain_text, tuple(m.labels), m) for m in self.stage.fake.sent_to(self.user.chat_id)]

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        await self.stage.fake.wait_for(predicate, CONTRACT_WAIT)

    async def send(self, text: str) -> None:
        await self.user.say(text)

    async def reply(self, text: str, to: Seen) -> None:
        await self.user.say(text, reply_to=to.handle)

    async def press_on(self, seen: Seen, label: str) -> None:
        await self.user.press(seen.handle, seen.choices()[seen.number(label) - 1])

    async def settle(self) -> None:
        fake = self.stage.fake
        await fake.wait_for(lambda: not fake.unanswered_callbacks(), CONTRACT_WAIT)
        assert self.stage.harness is not None
        await asyncio.sleep(0.3)  # an update still being fetched
        await self.stage.app.dispatcher.drain()
        await self.stage.harness.settled()

    def popups(self) -> list[str]:
        """What the pop-ups of this person's presses said ("" for a silent answer), in order."""
        return [a.text or "" for a in self.stage.fake.callback_answers]


# Matrix -----------------------------------------------------------------------------------------------------

class MatrixStage:
    """The bot against the real Synapse (one bot for the module: a new person per scenario); DMs encrypted."""

    platform = "matrix"

    def __init__(self, synapse: SynapseServer, bot: MatrixBot, data: Path) -> None:
        self.synapse, self.bot, self.data = synapse, bot, data
        self._clients: list[AsyncClient] = []

    @property
    def app(self) -> App:
        assert self.bot.app is not None
        return self.bot.app

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    async def restart(self) -> None:
        await self.bot.stop()
        await self.bot.start()

    async def person(self, role: str = "referent", name: str = "Camille") -> MatrixSpeaker:
        user_id, token = self.synapse.register(unique_name(name.lower()), "person-password")
        client = await make_client(self.synapse.url, user_id, token, self.data / user_id.strip("@").split(":")[0])
        self._clients.append(client)
        person = MatrixPerson(client, self.bot.user_id, token)
        await person.open_dm(encrypted=True)
        await person.ask(f"!start {await self.bot.invitation(role)}", "Bienvenue")
        speaker = MatrixSpeaker(person, person.room_id)
        speaker.caught_up()
        return speaker

    async def group(self, *people: Speaker) -> list[Speaker]:
        persons = [p.person for p in people if isinstance(p, MatrixSpeaker)]
        host, guests = persons[0], persons[1:]
        invited = [self.bot.user_id, *(g.client.user_id for g in guests)]
        created = await host.client.room_create(name="Coordination Fougères", preset=RoomPreset.private_chat,
                                                invite=invited)
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        for guest in guests:
            await sync_until(guest.client, lambda g=guest: room_id in g.client.invited_rooms, MATRIX_WAIT,
                             what="invited")
            await guest.client.join(room_id)
        everyone = len(persons) + 1
        await sync_until(host.client, lambda: room_id in host.client.rooms
                         and host.client.rooms[room_id].joined_count == everyone, MATRIX_WAIT, what="all joined")
        return [MatrixSpeaker(p, room_id, in_group=True) for p in persons]


class MatrixSpeaker(Speaker):
    platform = "matrix"

    def __init__(self, person: MatrixPerson, room_id: str, *, in_group: bool = False) -> None:
        super().__init__()
        self.person, self.room_id, self.in_group = person, room_id, in_group

    def messages(self) -> list[Seen]:
        return [Seen(getattr(e, "body", ""), (), e) for e in self.person.from_bot(self.room_id)]

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        await sync_until(self.person.client, predicate, CONTRACT_WAIT, what=what)

    async def send(self, text: str) -> None:
        typed = "!" + text[1:] if text.startswith("/") else text  # Element keeps "/" for its own commands
        await send_text(self.person.client, self.room_id, typed, keys_timeout=MATRIX_WAIT)

    async def reply(self, text: str, to: Seen) -> None:
        await send_reply(self.person.client, self.room_id, text, to.handle.event_id)

    async def settle(self) -> None:
        await self.person.settle()
