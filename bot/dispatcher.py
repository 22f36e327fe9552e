"""One database transaction per incoming event: find the member and the flow, route, commit, then send."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import outbox as outbox_mod
from bot.cleaning import cleaned
from bot.clock import Clock
from bot.config import Settings
from bot.context import Context
from bot.conversation import ConversationState, load_conversation
from bot.events import Address, ChoiceMade, Delivery, Event, Reply, TextReceived
from bot.flood import FloodGuard
from bot.i18n import t
from bot.matching import match_choice
from bot.metrics import Metrics
from bot.router import HandlerResult, Routes
from bot.routing import route
from bot.transport import Receipt, Transport, TransportError
from storage.inbound import first_time
from storage.members import find_member
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class ChatLocks:
    """One asyncio lock per (platform, chat, user): events of one conversation are handled one at a time."""

    def __init__(self) -> None:
        self._locks: defaultdict[tuple[str, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: defaultdict[tuple[str, str, str], int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, address: Address) -> AsyncIterator[None]:
        key = (address.platform, address.chat_id, address.user_id)
        self._users[key] += 1
        try:
            async with self._locks[key]:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class Dispatcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], routes: Routes, clock: Clock,
                 settings: Settings, outbox: outbox_mod.Outbox, transports: Mapping[str, Transport],
                 metrics: Metrics | None = None) -> None:
        self.sessions, self.routes, self.clock, self.settings = sessions, routes, clock, settings
        self.outbox, self.transports = outbox, transports
        self.metrics = metrics or Metrics()
        self.locks = ChatLocks()
        self.flood = FloodGuard(settings.rate_limit_per_minute)
        self.ttl = timedelta(minutes=settings.conversation_ttl_minutes)

    async def handle(self, event: Event) -> Receipt:
        """Entry point for adapters: never raises; the person always gets an answer in French."""
        event = cleaned(event)
        self.metrics.messages_in.labels(event.address.platform).inc()
        refusal = self._refusal(event)
        if refusal is not None:
            await self._send_direct(event.address, refusal)
            return Receipt(accepted=False)
        async with self.locks.hold(event.address):
            try:
                queued, direct = await self._transaction(event)
            except (OperationalError, DBAPIError) as error:
                if isinstance(error, IntegrityError):
                    await self._apologise(event, error)
                    return Receipt(accepted=False)
                log.warning("database unavailable while handling an event: %s", type(error).__name__)
                await self._send_direct(event.address, [Reply(t("core.unavailable"))])
                return Receipt(accepted=False)
            except Exception as error:
                await self._apologise(event, error)
                return Receipt(accepted=False)
            await self._send_direct(event.address, direct)
            await self.outbox.deliver(queued)
            return Receipt()

    def _refusal(self, event: Event) -> list[Reply] | None:
        """Too many messages, or one too long: answered at once, nothing stored, nothing queued."""
        verdict = self.flood.check(event.address, self.clock.now())
        if verdict == "drop":
            return []
        if verdict == "warn":
            return [Reply(t("core.slow_down"))]
        limit = self.settings.max_message_length
        if isinstance(event, TextReceived) and len(event.text) > limit:
            return [Reply(t("core.too_long", length=len(event.text), limit=limit))]
        return None

    async def _transaction(self, event: Event) -> tuple[list[OutboxMessage], list[Reply]]:
        async with self.sessions() as session, session.begin():
            now = self.clock.now()
            if event.message_id and not await first_time(session, event.address.platform,
                                                         self._event_key(event), now):
                log.info("event already handled, skipped")
                return [], []
            member = await find_member(session, event.address.platform, event.address.user_id)
            conversation = await load_conversation(session, event.address, now)
            ctx = Context(session, event.address, member, conversation, self.clock, self.settings,
                          self._event_key(event), self.routes)
            # A stateless button (RSVP…) leaves the flow's own prompt alone unless it offers new choices.
            replies = self._bind_choices(await self._run(event, ctx), conversation,
                                         keep_offer=self._is_action(event))
            if ctx.member is None and member is None:  # a stranger leaves no trace: roll back, answer directly
                await session.rollback()
                return [], replies
            if ctx.member is None:  # the member was just erased: keep the erasure, store nothing more
                return [], replies
            await conversation.save(session, now, self.ttl)
            base = f"reply:{ctx.event_key or secrets.token_hex(8)}"
            items = [outbox_mod.Outgoing(f"{base}:{i}", ctx.address, reply, outbox_mod.INTERACTIVE)
                     for i, reply in enumerate(replies)]
            ids = await outbox_mod.enqueue_many(session, items, now=now)
        return outbox_mod.queued_rows(items, ids, now), []

    async def _run(self, event: Event, ctx: Context) -> list[Reply]:
        event = self._typed_choice(event, ctx.conversation)
        handler, event = route(self.routes, event, ctx)
        result: HandlerResult = await handler(event, ctx) if handler else None
        if result is None:
            return []
        return [result] if isinstance(result, Reply) else list(result)

    def _is_action(self, event: Event) -> bool:
        return isinstance(event, ChoiceMade) and event.prompt_id in self.routes.actions

    @staticmethod
    def _typed_choice(event: Event, conversation: ConversationState) -> Event:
        """"2" or a label typed in answer to offered choices becomes the same ChoiceMade as a button press."""
        if not isinstance(event, TextReceived) or not conversation.offered:
            return event
        choice = match_choice(event.text, conversation.offered)
        if choice is None:
            return event
        return ChoiceMade(event.address, conversation.prompt_id, choice.id, event.message_id)

    @staticmethod
    def _bind_choices(replies: list[Reply], conversation: ConversationState, *, keep_offer: bool) -> list[Reply]:
        """The last reply with choices (and no prompt of its own) becomes the conversation's current prompt."""
        last = max((i for i, r in enumerate(replies) if r.choices and not r.prompt_id), default=None)
        if last is None:
            if replies and not keep_offer:
                conversation.clear_offer()
            return replies
        bound = list(replies)
        bound[last] = replace(bound[last], prompt_id=conversation.offer(bound[last].choices))
        return bound

    @staticmethod
    def _event_key(event: Event) -> str:
        a = event.address
        return f"{a.platform}:{a.chat_id}:{event.message_id}" if event.message_id else ""

    async def _apologise(self, event: Event, error: BaseException) -> None:
        error_id = secrets.token_hex(3).upper()
        self.metrics.errors.inc()
        log.error("error %s while handling a %s event", error_id, type(event).__name__,
                  exc_info=(type(error), error, error.__traceback__))
        await self._send_direct(event.address, [Reply(t("core.error", error_id=error_id))])

    async def _send_direct(self, address: Address, replies: list[Reply]) -> None:
        transport = self.transports.get(address.platform)
        for reply in replies:
            if transport is None:
                return
            try:
                await transport.send(Delivery(address, reply))
            except TransportError as error:
                log.warning("direct reply not delivered: %s", error)
                return

