"""One database transaction per incoming event: find the member and the flow, route, commit, then send."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
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
from bot.events import Address, Delivery, Event, Reply, TextReceived
from bot.flood import FloodGuard
from bot.form import DRAFT
from bot.i18n import t
from bot.metrics import Metrics
from bot.router import Outcome, Route, Routes, route
from bot.transport import Receipt, Transport, TransportError
from storage.inbound import first_time
from storage.members import find_member
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


# PostgreSQL transactions handled at once per process: below the pool's 15 connections (SQLAlchemy's default 5 + 10),
# leaving some to the outbox, the scheduler and its leader lock.
TRANSACTIONS_AT_ONCE = 4


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
        self._sending: set[asyncio.Task[None]] = set()
        # SQLite has one writer: transactions that read then write would deadlock each other (« database is
        # locked ») when updates are handled concurrently, so they take turns here. PostgreSQL runs them side by
        # side, a few at a time: a burst then queues here in arrival order rather than in the connection pool, which
        # is not fair and gives up after 30 s (a press lost in a burst of 1,000).
        sqlite = settings.database_url.startswith("sqlite")
        self._writes = asyncio.Lock() if sqlite else asyncio.Semaphore(TRANSACTIONS_AT_ONCE)

    async def handle(self, event: Event) -> Receipt:
        """Handle an event and send its answers; never raises: the person always gets an answer in French."""
        return await self._handle(event, background=False)

    async def receive(self, event: Event) -> Receipt:
        """The adapters' entry point: the receipt comes as soon as the answer is committed (a press's pop-up
        must be answered within seconds, even in a burst); the answers go out right after, still in order per
        conversation (its lock is held until they are sent)."""
        return await self._handle(event, background=True)

    async def drain(self) -> None:
        """Wait for answers still being sent (before stopping)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _handle(self, event: Event, *, background: bool) -> Receipt:
        event = cleaned(event)  # control characters and NUL bytes never reach a handler nor the database
        self.metrics.messages_in.labels(event.address.platform).inc()
        refusal = self._refusal(event)
        if refusal is not None:
            await self._send_direct(event.address, refusal)
            return Receipt(accepted=False)
        held = AsyncExitStack()
        await held.enter_async_context(self.locks.hold(event.address))
        try:
            queued, direct, decision = await self._transaction(event)
        except Exception as error:
            async with held:
                await self._failed(event, error)
            return Receipt(accepted=False)
        finish = self._finish(held, event.address, direct, queued)
        if background:
            task = asyncio.create_task(finish)
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        else:
            await finish
        if decision is None:  # already handled: a retried update
            return Receipt(accepted=False)
        return Receipt(accepted=decision.accepted, notice=decision.notice)

    async def _finish(self, held: AsyncExitStack, address: Address, direct: list[Reply],
                      queued: list[OutboxMessage]) -> None:
        async with held:
            await self._send_direct(address, direct)
            await self.outbox.deliver(queued)

    async def _failed(self, event: Event, error: Exception) -> None:
        if isinstance(error, (OperationalError, DBAPIError)) and not isinstance(error, IntegrityError):
            log.warning("database unavailable while handling an event: %s", type(error).__name__)
            await self._send_direct(event.address, [Reply(t("core.unavailable"))])
        else:
            await self._apologise(event, error)

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

    async def _transaction(self, event: Event) -> tuple[list[OutboxMessage], list[Reply], Route | None]:
        async with self._writes, self.sessions() as session, session.begin():
            now = self.clock.now()
            if event.message_id and not await first_time(session, event.address.platform,
                                                         self._event_key(event), now):
                log.info("event already handled, skipped")
                return [], [], None
            member = await find_member(session, event.address.platform, event.address.user_id)
            conversation = await load_conversation(session, event.address, now)
            ctx = Context(session, event.address, member, conversation, self.clock, self.settings,
                          self._event_key(event), self.routes)
            decision = await route(self.routes, event, ctx)
            if decision.quiet:
                return [], [], decision
            outcome = await self._run(decision, ctx)
            if outcome.forget_chat:  # the member was just erased: keep the erasure, write nothing more
                return [], list(outcome.replies), decision
            if ctx.member is None:  # a stranger who did not join leaves no trace
                await session.rollback()
                return [], list(outcome.replies), decision
            replies = self._bind(list(outcome.replies), conversation, event.address)
            await conversation.save(session, now, self.ttl)
            base = f"reply:{ctx.event_key or secrets.token_hex(8)}"
            asked = event.message_id if event.address.is_group else ""  # a group's question replies to its asker
            lease = now + outbox_mod.DIRECT_LEASE  # sent by _finish below; the worker only if this process dies
            items = [outbox_mod.Outgoing(f"{base}:{i}", ctx.address, reply, outbox_mod.INTERACTIVE, lease,
                                         reply_to=asked if reply.expects_answer else "")
                     for i, reply in enumerate(replies)]
            ids = await outbox_mod.enqueue_many(session, items, now=now)
        return outbox_mod.queued_rows(items, ids, now), [], decision

    async def _run(self, decision: Route, ctx: Context) -> Outcome:
        conversation, notes = ctx.conversation, []
        if decision.leaves_flow:
            ctx.left_step = conversation.step
            if set(conversation.data) - {DRAFT} and DRAFT in conversation.data and not decision.quietly:
                notes.append(Reply(t("core.flow_abandoned")))
            conversation.end()
        if decision.taken is not None and (choice := conversation.find_choice(decision.taken.choice_id)):
            conversation.answered(decision.taken.prompt_id, choice)
        outcome = Outcome.of(await decision.handler(decision.event, ctx))
        return replace(outcome, replies=(*notes, *outcome.replies)) if notes else outcome

    @staticmethod
    def _bind(replies: list[Reply], conversation: ConversationState, address: Address) -> list[Reply]:
        """The last reply with choices becomes the conversation's current prompt; in a group, the question that
        waits for the person's answer says so (only their reply to it is read)."""
        last = max((i for i, r in enumerate(replies) if r.choices and not r.prompt_id), default=None)
        if last is not None:
            replies[last] = replace(replies[last], prompt_id=conversation.offer(replies[last].choices))
        else:
            conversation.settle()
        if address.is_group and conversation.in_flow and replies:
            replies[-1] = replace(replies[-1], expects_answer=True)
        return replies

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

