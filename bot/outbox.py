"""Durable outgoing queue: every message is a row first, sent once the transport confirms, retried otherwise."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chats import follow_chat, stop_writing, unreachable_targets
from bot.clock import Clock
from bot.events import Address, Attachment, Choice, Delivery, Reply
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.transport import Transport, TransportError
from storage.db import upsert_insert
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

INTERACTIVE = 0  # answers to someone who just wrote: sent first
INITIATED = 1  # reminders, digests, notifications
# Answers are sent at once by the process that handled the message (Outbox.deliver); their rows are queued due this
# much later, so no worker round (the leader's, maybe in another process) sends them a second time meanwhile. If
# that process dies before sending, the worker sends them when the lease runs out.
DIRECT_LEASE = timedelta(seconds=20)


def encode(reply: Reply, address: Address | None = None, reply_to: str = "") -> dict[str, Any]:
    """The row's payload: the reply, and who in the chat it is for (mentions, private-room checks, threads).

    Cleared once sent, like the text: the person's id does not stay in a queue table."""
    payload: dict[str, Any] = {"text": reply.text, "prompt_id": reply.prompt_id,
                               "choices": [[c.id, c.label] for c in reply.choices],
                               "per_row": reply.choices_per_row}
    if reply.notify:
        payload["notify"] = True
    if reply.expects_answer:
        payload["expects"] = True
    if address is not None and (address.user_id or address.thread_id):
        payload["to"] = {"user_id": address.user_id, "thread_id": address.thread_id}
    if reply_to:
        payload["reply_to"] = reply_to
    if reply.attachment:
        a = reply.attachment
        payload["attachment"] = {"name": a.name, "mime": a.mime, "data": base64.b64encode(a.data).decode()}
    return payload


def decode(payload: Mapping[str, Any]) -> Reply:
    att = payload.get("attachment")
    attachment = Attachment(att["name"], att["mime"], base64.b64decode(att["data"])) if att else None
    return Reply(text=payload["text"], choices=tuple(Choice(i, lbl) for i, lbl in payload.get("choices", [])),
                 attachment=attachment, prompt_id=payload.get("prompt_id", ""),
                 choices_per_row=payload.get("per_row", 1), notify=bool(payload.get("notify")),
                 expects_answer=bool(payload.get("expects")))


def row_address(row: OutboxMessage) -> Address:
    """Where a queued row goes, with the person and thread it was queued for."""
    to = row.payload.get("to") or {}
    return Address(row.platform, row.chat_id, str(to.get("user_id", "")), row.is_group,
                   thread_id=str(to.get("thread_id", "")))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to queue: its idempotency key (kind, target, occurrence), where, what."""

    key: str
    address: Address
    reply: Reply
    priority: int = INITIATED
    due_at: datetime | None = None
    reply_to: str = ""  # the platform message this answers (a group's question replies to the asker's message)


async def enqueue_many(session: AsyncSession, items: Sequence[Outgoing], *, now: datetime) -> list[int]:
    """Queue messages in one statement, skipping keys already queued; ids of the rows added. Caller's transaction."""
    gone = await unreachable_targets(session, [(i.address.platform, i.address.chat_id, i.priority == INTERACTIVE)
                                               for i in items])
    items = [i for i in items if (i.address.platform, i.address.chat_id) not in gone]
    if not items:
        return []
    rows = [dict(key=i.key[:255], platform=i.address.platform, chat_id=i.address.chat_id,
                 is_group=i.address.is_group, payload=encode(i.reply, i.address, i.reply_to), priority=i.priority,
                 created_at=now, due_at=i.due_at or now, attempts=0) for i in items]
    stmt = upsert_insert(session, OutboxMessage).on_conflict_do_nothing(index_elements=["key"]).returning(
        OutboxMessage.key, OutboxMessage.id)
    if len(rows) == 1:
        result = await session.execute(stmt.values(**rows[0]))
    else:
        result = await session.execute(stmt, rows)  # executemany: SQLAlchemy batches the VALUES
    added: dict[str, int] = {key: row_id for key, row_id in result.tuples().all()}
    return [added[row["key"]] for row in rows if row["key"] in added]


def queued_rows(items: Sequence[Outgoing], ids: Sequence[int], now: datetime) -> list[OutboxMessage]:
    """The rows just inserted for `items`, rebuilt in memory (detached) so they can be sent without a re-read.

    `ids` are enqueue_many's answer: in item order, without the items whose key was already queued."""
    if len(ids) != len(items):
        return []  # some were queued before: leave them all to the worker, which keeps their order
    return [OutboxMessage(id=row_id, key=i.key[:255], platform=i.address.platform, chat_id=i.address.chat_id,
                          is_group=i.address.is_group, payload=encode(i.reply, i.address, i.reply_to),
                          priority=i.priority, attempts=0, created_at=now, due_at=i.due_at or now)
            for i, row_id in zip(items, ids, strict=True)]


async def enqueue(session: AsyncSession, key: str, address: Address, reply: Reply, *, now: datetime,
                  priority: int = INITIATED, due_at: datetime | None = None) -> int | None:
    """Add a message unless one with the same key exists; its id when added. Runs in the caller's transaction."""
    ids = await enqueue_many(session, [Outgoing(key, address, reply, priority, due_at)], now=now)
    return ids[0] if ids else None


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """1 s, 2 s, 4 s … capped at 10 min; the platform's own retry_after wins when it is longer."""
    seconds = min(2 ** max(attempts - 1, 0), 600)
    return timedelta(seconds=max(seconds, retry_after or 0))


class Outbox:
    """Delivers pending rows in order per chat, within each platform's rate limits."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], transports: Mapping[str, Transport],
                 clock: Clock, *, max_attempts: int = 12, batch: int = 200, metrics: Metrics | None = None,
                 parallel: int = 4, round_seconds: float = 2.0) -> None:
        self.sessions, self.transports, self.clock = sessions, transports, clock
        self.max_attempts, self.batch = max_attempts, batch
        self.parallel, self.round_seconds = parallel, round_seconds  # chats sent to at once; a round's length
        self.limiters = {name: RateLimiter(t.limits) for name, t in transports.items()}
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._retry_in: dict[int, float] = {}  # seconds until a row that just failed is due again
        self._busy: set[int] = set()  # rows being sent right now
        self._throttled: set[int] = set()  # rows whose last try met a 429 (until they are tried again)
        self._sent_at: dict[int, float] = {}  # rows whose turn was taken by a round: when (monotonic)
        self._sent: set[int] = set()  # rows this process sent lately (a round may have loaded them before)
        self._sent_order: deque[int] = deque()
        self._lock = asyncio.Lock()
        self._marks: list[dict[str, Any]] = []  # "sent" marks of answers, written together (group commit)
        self._marking = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def deliver(self, rows: Sequence[OutboxMessage]) -> None:
        """Send these just-queued rows now (answers to a user), without waiting for the worker's next round.

        They take the answers' lane, ahead of any broadcast being drained. The rows come from the caller's memory
        (no re-read), queued under DIRECT_LEASE; their "sent" marks are written together with those of the answers
        sent meanwhile (one statement for many conversations)."""
        marks: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            if await self._send_answer(row, marks) is False:
                self._retry_in.pop(row.id, None)  # the worker takes it from here, at its due time…
                rest = [r.id for r in rows[i + 1:]]
                if rest:  # …and the answers after it right behind it, not at the end of their lease
                    await self._mark_many(rest, due_at=self.clock.now())
                self.wake()
                break
        await self._record_sent(marks)

    async def _record_sent(self, marks: list[dict[str, Any]]) -> None:
        """Write these marks, and those other answers added while the previous write was under way: under a burst
        one transaction marks the answers of many conversations."""
        self._marks.extend(marks)
        await self._flush_marks()

    async def _flush_marks(self) -> None:
        """Write the "sent" marks waiting; on a database error they wait for the next try (every round makes
        one): a message sent is never sent again because its mark could not be written at once."""
        async with self._marking:
            batch, self._marks = self._marks, []
            if not batch:  # empty when the write before this one took our marks along
                return
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(update(OutboxMessage), batch)
            except DBAPIError as error:
                self._marks[:0] = batch
                log.warning("outbox: %d sent marks kept for the next round (%s)", len(batch), type(error).__name__)

    async def _mark_many(self, ids: list[int], **values: Any) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**values))

    async def _send_answer(self, row: OutboxMessage, marks: list[dict[str, Any]],
                           throttled_retries: int = 3) -> bool | None:
        """An answer refused for the pace (429) tries again as soon as its lane allows, not at the next round:
        the person is waiting."""
        for _ in range(throttled_retries):
            sent = await self._send(row, marks, urgent=True)
            if sent is not False or row.id not in self._throttled:
                return sent
        return await self._send(row, marks, urgent=True)

    async def run_once(self) -> float:
        """One round over pending rows (answers' lane first); returns seconds until something may be due again."""
        async with self._lock:
            await self._flush_marks()
            now = self.clock.now()
            async with self.sessions() as session:
                rows = (await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
                    .order_by(OutboxMessage.priority, OutboxMessage.id).limit(self.batch)
                )).scalars().all()
            return await self._send_round(rows, now)

    async def _send_round(self, rows: Sequence[OutboxMessage], now: datetime) -> float:
        """Rows in lane order; each chat's in order, several chats at once (a send takes a round trip, the
        platform's pace is what limits). A round lasts `round_seconds` at most: the next one reads the queue
        again, so a retried answer passes before the rest of a broadcast (fresh answers do not wait for rounds
        at all: `deliver` takes the answers' lane)."""
        chats: dict[tuple[str, str], list[OutboxMessage]] = {}
        for row in rows:
            chats.setdefault((row.platform, row.chat_id), []).append(row)
        slots = asyncio.Semaphore(self.parallel)
        ends = asyncio.get_running_loop().time() + self.round_seconds
        waits = await asyncio.gather(*(self._send_chat(chat_rows, now, slots, ends) for chat_rows in chats.values()))
        if len(rows) == self.batch and not any(w is not None for w in waits):
            return 0.0  # a full batch went out: take the next one at once
        return max(min([w for w in waits if w is not None], default=5.0), 0.0)

    async def _send_chat(self, rows: Sequence[OutboxMessage], now: datetime, slots: asyncio.Semaphore,
                         ends: float) -> float | None:
        """One chat's rows in order until one is not due, fails or must wait past the round; None: all sent."""
        for row in rows:
            if row.platform not in self.transports:
                return 5.0
            if row.due_at > now:
                return (row.due_at - now).total_seconds()
            async with slots:
                wait = await self._pace(row, ends)
                if wait is not None:
                    return wait
                sent = await self._send(row, urgent=row.priority == INTERACTIVE, paced=True)
            if sent is None:  # being sent right now as an answer: keep this chat's order
                return 0.5
            if not sent:
                return self._retry_in.pop(row.id, 1.0)
        return None

    # lanes and pacing ------------------------------------------------------------------------------------

    async def _pace(self, row: OutboxMessage, ends: float) -> float | None:
        """Wait for the row's turn in its lane and record its send (None); or, when the turn comes after the
        round's end, the seconds to wait (the row is left for a later round)."""
        limiter, urgent = self.limiters[row.platform], row.priority == INTERACTIVE
        loop = asyncio.get_running_loop()
        while (wait := limiter.delay(row.chat_id, row.is_group, urgent=urgent)) > 0:
            if loop.time() + wait > ends:
                return wait
            await asyncio.sleep(wait)
        self._sent_at[row.id] = limiter.record(row.chat_id, row.is_group)
        return None

    async def _take_turn(self, row: OutboxMessage, urgent: bool, paced: bool) -> float:
        """When the row's send was recorded: by `_pace` (worker rounds), or now after the answers' lane wait."""
        if paced:
            return self._sent_at.pop(row.id)
        return await self.limiters[row.platform].acquire(row.chat_id, row.is_group)

    def _refused(self, row: OutboxMessage, error: TransportError, sent_at: float) -> None:
        """A 429: the platform's pace is learned from it (and every send of the platform pauses)."""
        self._throttled.discard(row.id)
        if error.rate_limited and error.retry_after:
            self._throttled.add(row.id)
            self.limiters[row.platform].refused(error.retry_after, sent_at)
        elif error.retry_after:
            self.limiters[row.platform].pause(error.retry_after)

    # sending ---------------------------------------------------------------------------------------------

    async def _send(self, row: OutboxMessage, marks: list[dict[str, Any]] | None = None, *,
                    urgent: bool = False, paced: bool = False) -> bool | None:
        """True when sent, False when it failed (retry planned), None when another task has it or sent it.

        The "sent" mark is written at once, or appended to `marks` for the caller to write with others."""
        transport = self.transports.get(row.platform)
        if transport is None:
            return False
        if not self._claim(row.id):
            self._sent_at.pop(row.id, None)
            return None
        try:
            return await self._send_claimed(row, transport, marks, await self._take_turn(row, urgent, paced))
        finally:
            self._busy.discard(row.id)
            self._sent_at.pop(row.id, None)

    def _claim(self, row_id: int) -> bool:
        """Answers (deliver) and the worker's round may meet on one row: only one of them sends it."""
        if row_id in self._busy or row_id in self._sent:
            return False
        self._busy.add(row_id)
        return True

    async def _send_claimed(self, row: OutboxMessage, transport: Transport,
                            marks: list[dict[str, Any]] | None, sent_at: float) -> bool:
        try:
            delivery = Delivery(row_address(row), decode(row.payload), row.payload.get("reply_to", ""), key=row.key)
            message_id = await transport.send(delivery)
        except TransportError as error:
            self._refused(row, error, sent_at)
            await self._failed(row, error)
            return False
        except Exception as error:  # an adapter bug must not stop the queue
            log.exception("outbox: unexpected send error for message %s", row.id)
            await self._failed(row, TransportError(type(error).__name__))
            return False
        # Once delivered, the text is no longer needed: keeping it would keep names and reports in a queue table.
        mark: dict[str, Any] = dict(id=row.id, sent_at=self.clock.now(), platform_message_id=message_id,
                                    attempts=row.attempts + 1, payload={})
        self._sent.add(row.id)
        self._throttled.discard(row.id)
        self._sent_order.append(row.id)
        if len(self._sent_order) > 10_000:
            self._sent.discard(self._sent_order.popleft())
        if self.metrics:
            self.metrics.messages_out.labels(row.platform).inc()
        if marks is None:
            await self._record_sent([mark])
        else:
            marks.append(mark)
        return True

    async def _failed(self, row: OutboxMessage, error: TransportError) -> None:
        attempts = row.attempts = row.attempts + 1
        if error.moved_to:
            await self._chat_changed(row, error)
            return
        if error.permanent or attempts >= self.max_attempts:
            log.warning("outbox: message %s abandoned after %d attempts (%s)", row.id, attempts, error)
            failed = dict(failed_at=self.clock.now(), attempts=attempts, last_error=str(error)[:500])
            if error.gone:  # the message and its chat marked together: nothing is queued for it in between
                await self._chat_changed(row, error, failed)
            else:
                await self._mark(id=row.id, **failed)
            return
        # A 429 is no failure of the message: it goes again when the platform said, not after a growing backoff.
        rate_limited = error.rate_limited and error.retry_after
        delay = timedelta(seconds=error.retry_after or 0) if rate_limited else backoff(attempts, error.retry_after)
        self._retry_in[row.id] = delay.total_seconds()
        due = self.clock.now() + delay
        log.info("outbox: message %s retry %d at %s (%s)", row.id, attempts, due.isoformat(), error)
        await self._mark(id=row.id, due_at=due, attempts=attempts, last_error=str(error)[:500])

    async def _chat_changed(self, row: OutboxMessage, error: TransportError,
                            failed: dict[str, Any] | None = None) -> None:
        """The chat moved (its rows and link follow, sent again at once) or is gone (marked, nothing more sent);
        `failed`: the row's own failure, written in the same transaction."""
        async with self.sessions() as session, session.begin():
            if failed:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**failed))
            if error.moved_to:
                await follow_chat(session, row.platform, row.chat_id, error.moved_to)
            else:
                notices = await stop_writing(session, row.platform, row.chat_id, str(error), self.clock.now())
                await enqueue_many(session, [Outgoing(*notice) for notice in notices], now=self.clock.now())
        log.info("outbox: chat of message %s %s", row.id, "moved" if error.moved_to else "unreachable")
        self._retry_in[row.id] = 0.0
        self.wake()

    async def _mark(self, id: int, **values: Any) -> None:  # noqa: A002 (the column's name)
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == id).values(**values))

    async def run(self, stop: asyncio.Event, may_run: Callable[[], Awaitable[bool]] | None = None) -> None:
        """The worker: rounds until `stop` is set; a wake() or the next due time starts a round.

        `may_run` keeps rounds to one process when several share a database (the scheduler's leader);
        the others still send their own answers through deliver()."""
        while not stop.is_set():
            try:
                delay = await self.run_once() if may_run is None or await may_run() else 5.0
            except Exception:
                log.exception("outbox: round failed; retrying shortly")
                delay = 2.0
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()


async def queued_keys(session: AsyncSession, prefix: str) -> set[str]:
    """Keys of queued or sent messages starting with `prefix` (who already got a message of this kind)."""
    query = select(OutboxMessage.key).where(OutboxMessage.key.startswith(prefix, autoescape=True))
    return set((await session.execute(query)).scalars())
