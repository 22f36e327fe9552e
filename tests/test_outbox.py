"""The outbox delivers every initiated message exactly once, across failures and restarts, in order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from bot.events import Address, Reply
from bot.outbox import backoff, enqueue
from storage.models import OutboxMessage
from tests.chat import FakeTransport

KAREN = Address("test", "chat-1", "user-1")


async def _queue(app: App, key: str, text: str, address: Address = KAREN) -> int | None:
    async with app.sessions() as session, session.begin():
        return await enqueue(session, key, address, Reply(text), now=app.clock.now())


async def _drain(app: App, clock: FrozenClock, rounds: int = 20) -> None:
    """Run worker rounds, moving the clock to each next due time (no sleeping)."""
    for _ in range(rounds):
        await app.outbox.run_once()
        async with app.sessions() as session:
            pending = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)))).scalars().all()
        if not pending:
            return
        later = [row.due_at for row in pending if row.due_at > clock.now()]
        if later:
            clock.set(min(later))


async def test_three_failures_then_success_delivers_exactly_once(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    await _queue(app, "reminder:m1:o1:J-1:member-1", "Réunion demain à 14 h")
    transport.fail_next = 3
    await _drain(app, clock)
    assert [d.reply.text for d in transport.sent] == ["Réunion demain à 14 h"]
    async with app.sessions() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.attempts == 4 and row.sent_at is not None and row.platform_message_id == "1"


async def test_the_same_key_is_queued_once(app: App, transport: FakeTransport, clock: FrozenClock) -> None:
    assert await _queue(app, "digest:group-1:2026-W11", "Synthèse") is not None
    assert await _queue(app, "digest:group-1:2026-W11", "Synthèse") is None
    await _drain(app, clock)
    assert len(transport.sent) == 1


async def test_a_pending_message_survives_a_restart(
    settings: Settings, clock: FrozenClock, transport: FakeTransport
) -> None:
    first = App(settings, clock=clock, transports=[transport])
    await first.prepare()
    await _queue(first, "notify:report-1", "Votre signalement a été pris en compte")
    transport.fail_next = 1
    await first.outbox.run_once()
    await first.close()
    assert transport.sent == []

    restarted_transport = FakeTransport()
    second = App(settings, clock=clock, transports=[restarted_transport])
    await second.prepare()
    try:
        clock.advance(timedelta(minutes=1))
        await _drain(second, clock)
        await _drain(second, clock)
        assert [d.reply.text for d in restarted_transport.sent] == ["Votre signalement a été pris en compte"]
    finally:
        await second.close()


async def test_order_is_kept_per_chat_when_a_send_fails(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    for i in range(5):
        await _queue(app, f"k{i}", f"message {i}")
    await _queue(app, "other", "ailleurs", Address("test", "chat-2", "user-2"))
    transport.fail_next = 1
    await _drain(app, clock)
    mine = [r.text for r in transport.to("chat-1")]
    assert mine == [f"message {i}" for i in range(5)]
    assert [r.text for r in transport.to("chat-2")] == ["ailleurs"]


async def test_retry_after_from_the_platform_is_obeyed(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    await _queue(app, "k", "bonjour")
    transport.fail_next, transport.retry_after = 1, 120
    start = clock.now()
    await app.outbox.run_once()
    async with app.sessions() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.due_at - start >= timedelta(seconds=120)


async def test_a_message_that_never_goes_through_is_abandoned_not_retried_forever(
    app: App, transport: FakeTransport, clock: FrozenClock
) -> None:
    await _queue(app, "k", "bonjour")
    transport.fail_next = 1000
    await _drain(app, clock, rounds=app.settings.outbox_max_attempts + 5)
    async with app.sessions() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.failed_at is not None and row.sent_at is None
    assert row.attempts == app.settings.outbox_max_attempts


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff(n, None).total_seconds() for n in range(1, 15)]
    assert delays[:4] == [1, 2, 4, 8]
    assert max(delays) == 600
    assert backoff(1, 30).total_seconds() == 30
