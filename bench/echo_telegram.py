"""The floor of the Telegram benchmarks: a bare python-telegram-bot echo bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.fakes.telegram_api import FakeTelegram, FakeUser

TOKEN = "123456:BENCH-token"


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


async def run_bare_echo(
    fake_url: str | FakeTelegram,
    n_updates: int,
    users: int,
    *,
    concurrent_updates: bool | int = False,
    telegram_limits: bool = False,
    warmup: int = 10,
    first_user_id: int = 900_000,
) -> dict[str, Any]:
    """Echo `n_updates` texts from `users` users talking at once (each waits for its echo before the next).

    `fake_url` is a running FakeTelegram of this process (or its base URL). Latency runs from the update
    being queued to the reply being recorded by the fake. Returns updates/s, latencies in ms, mismatches.
    `telegram_limits`: the echo keeps to Telegram's flood limits as PTB offers it (its AIORateLimiter: 30 messages
    a second overall, 20 a minute per group), the floor of a bot that may not answer faster than Telegram allows.
    """
    fake = fake_url if isinstance(fake_url, FakeTelegram) else FakeTelegram.at(fake_url)
    builder = (ApplicationBuilder().token(TOKEN).base_url(fake.api_url).base_file_url(fake.file_url)
               .concurrent_updates(concurrent_updates))
    app = (builder.rate_limiter(AIORateLimiter()) if telegram_limits else builder).build()
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        if warmup:
            await _talk(fake, fake.user(first_user_id - 1, "Warmup"), warmup, [], [])
        people = [fake.user(first_user_id + i, f"Bench{i}") for i in range(users)]
        shares = [n_updates // users + (1 if i < n_updates % users else 0) for i in range(users)]
        latencies: list[float] = []
        mismatches: list[str] = []
        started = time.monotonic()
        await asyncio.gather(*(_talk(fake, person, share, latencies, mismatches)
                               for person, share in zip(people, shares, strict=True)))
        elapsed = time.monotonic() - started
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    return {
        "updates": n_updates,
        "users": users,
        "seconds": round(elapsed, 3),
        "updates_per_s": round(n_updates / elapsed, 1) if elapsed else math.inf,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
        "max_ms": round(max(latencies, default=0.0) * 1000, 2),
        "mismatches": len(mismatches),
    }


async def _talk(fake: FakeTelegram, user: FakeUser, count: int, latencies: list[float],
                mismatches: list[str]) -> None:
    for k in range(count):
        before = fake.sent_count(user.chat_id)
        text = f"{user.id}-{k}"
        queued = time.monotonic()
        await user.say(text)
        await fake.wait_for(lambda: fake.sent_count(user.chat_id) > before, timeout=30)  # noqa: B023
        reply = fake.last_sent(user.chat_id)
        assert reply is not None
        latencies.append(reply.received_at - queued)
        if reply.text != text:
            mismatches.append(text)


def _percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile (no interpolation: the value some update really saw)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


async def _main() -> None:
    async with FakeTelegram() as fake:
        for users in (1, 10):
            print(json.dumps(await run_bare_echo(fake.url, 500, users)))


if __name__ == "__main__":
    asyncio.run(_main())
