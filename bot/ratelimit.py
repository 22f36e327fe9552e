"""Per-platform send limits: a learned global pace (a burst, then a steady rate) shared by two lanes, answers
first; per chat per second and per group per minute windows."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

MIN_RATE = 0.05  # messages/s: a learned pace never goes below this (one message every 20 s)
ANSWER_ROOM = 2  # messages of the burst broadcasts leave to answers (two: an estimate a little high still holds)
MARGIN = 0.95  # the bucket is assumed to empty a little slower than learned: an estimate a bit high holds
PROBE_AFTER = 30.0  # seconds without a refusal before the pace tries a little faster
RELEARN_AFTER = 3600.0  # seconds without a refusal: the server may have been reconfigured, start over


@dataclass(frozen=True, slots=True)
class Limits:
    global_per_s: float = 0  # 0: unlimited (until the platform refuses: then it is learned)
    per_chat_per_s: float = 0
    per_group_per_min: float = 0
    burst: int = 0  # messages the platform takes at once before its steady rate applies (0: one second's worth)


class Pace:
    """The platform's global limit seen as a leaky bucket (Synapse's own model: `burst` messages at once, then
    `rate` per second), learned from refusals, with room kept for answers to people.

    Answers (`urgent`) may fill the bucket; broadcasts stop two short of it and yield while an answer waits, so
    an answer never queues behind a 200-member reminder. A refusal (HTTP 429) tells us the bucket is full: two
    refusals close together and the sends between them give the rate; a refusal within the first burst gives the
    burst; a long calm lets the pace try a little faster (an estimate too low, or a limit lifted)."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.configured: tuple[float, float] = (rate, burst)
        self.rate, self.burst = rate, float(burst)
        self._now = monotonic
        self._level = 0.0  # messages in the bucket (what the platform still counts against us)
        self._stamp = monotonic()
        self._sent_since_empty = 0
        self._last_refusal: tuple[float, float, int] | None = None  # when, retry_after, sends counted at that time
        self._sends = 0
        self._calm_since = monotonic()  # last refusal or last probe
        self._rate_learned = False
        self.urgent_waiting = 0

    def wait(self, urgent: bool) -> float:
        """Seconds until a message of this lane may go (0: now)."""
        if self.rate <= 0:
            return 0.0
        level = self._leak()
        room = self.burst if urgent else self.burst - min(ANSWER_ROOM, self.burst // 2)
        if not urgent and self.urgent_waiting:
            room = min(room, max(level, 0.0))  # nothing for broadcasts while an answer waits
        excess = level + 1 - room
        if excess <= 0:
            return 0.0
        return max(excess / (self.rate * MARGIN), 0.01)

    def take(self) -> None:
        """A message goes out now."""
        self._sends += 1
        if self.rate <= 0:
            return
        self._probe()
        if self._leak() < 1:
            self._sent_since_empty = 0
        self._level += 1
        self._sent_since_empty += 1

    def refused(self, retry_after: float, sent_at: float) -> None:
        """The platform said 429 to a message sent at `sent_at` (monotonic), to retry in `retry_after` seconds."""
        now = self._now()
        previous, self._last_refusal = self._last_refusal, (sent_at, retry_after, self._sends)
        self._calm_since = now
        if previous is not None and now - previous[0] > RELEARN_AFTER:
            self.rate, self.burst = self.configured
            previous, self._rate_learned = None, False
        through = self._sent_since_empty - 1  # the refused message itself was counted by take()
        fresh = previous is None or sent_at - previous[0] > self.configured[1] / max(self.rate, MIN_RATE)
        if self._rate_learned and fresh and 0 < through < self.burst:
            self.burst = through  # refused within a burst that started from an empty bucket (at a rate known right)
        if previous is not None:
            self._learn_rate(previous, sent_at, retry_after)
        elif self.rate <= 0:
            self.rate = max(1 / max(retry_after, 0.01), MIN_RATE)
        # The bucket is full now, and will be until retry_after has passed.
        self._level, self._stamp = self.burst + self.rate * retry_after, now

    def _learn_rate(self, previous: tuple[float, float, int], sent_at: float, retry_after: float) -> None:
        """Both refusals found the bucket full: what went through between them leaked out in the meantime."""
        before_at, before_retry, before_sends = previous
        through = self._sends - before_sends - 1  # the refused message itself was counted by take()
        span = sent_at - before_at + retry_after - before_retry
        # Only refusals close together: over a longer span the bucket may have emptied in between (not backlogged),
        # and what went through would understate the rate.
        if through >= 3 and 0 < span <= 3 * max(self.burst, self.configured[1]) / max(self.rate, MIN_RATE):
            self.rate, self._rate_learned = max(MIN_RATE, through / span), True

    def _probe(self) -> None:
        """No refusal for a while although we keep sending: the estimate may be low (or the limit was lifted);
        try 5 % faster, up to what the adapter declared. A refusal brings it back to what the server says (and
        it falls on a broadcast: answers have room kept for them)."""
        now = self._now()
        if self.rate >= self.configured[0] or now - self._calm_since < max(PROBE_AFTER, 4 * self.burst / self.rate):
            return
        self.rate, self._calm_since = min(self.configured[0], self.rate * 1.05), now

    def _leak(self) -> float:
        now = self._now()
        self._level = max(0.0, self._level - (now - self._stamp) * self.rate * MARGIN)
        self._stamp = now
        return self._level


class RateLimiter:
    """The global pace plus sliding windows of recent sends per chat; `delay()` says how long to wait."""

    def __init__(self, limits: Limits, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._now = monotonic
        burst = limits.burst or max(1, math.ceil(limits.global_per_s))
        self.pace = Pace(limits.global_per_s, burst, monotonic)
        self._chats: defaultdict[str, deque[float]] = defaultdict(deque)
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The platform asked us to wait (HTTP 429 retry_after): nothing goes out until then."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    def refused(self, retry_after: float, sent_at: float) -> None:
        """A rate-limit refusal: learn from it, and pause."""
        self.pace.refused(retry_after, sent_at)
        self.pause(retry_after)

    def delay(self, chat_id: str, is_group: bool, *, urgent: bool = False) -> float:
        """Seconds to wait. An answer in a private chat keeps only to the global pace: the person's own pace
        bounds it, and platforms take such short bursts (Telegram: « one message per second to a chat, short
        bursts allowed »); waiting a second per answer made every quick exchange feel stuck."""
        now = self._now()
        chat = 0.0 if urgent and not is_group else self.chat_delay(chat_id, is_group)
        return max(0.0, self._paused_until - now, self.pace.wait(urgent), chat)

    def chat_delay(self, chat_id: str, is_group: bool) -> float:
        """What this one chat's own limit asks (the others may go meanwhile)."""
        now = self._now()
        chat = self._chats[chat_id]
        if is_group and self.limits.per_group_per_min:
            return self._window_wait(chat, now, 60.0, self.limits.per_group_per_min)
        if self.limits.per_chat_per_s:
            return self._window_wait(chat, now, 1.0, self.limits.per_chat_per_s)
        return 0.0

    def record(self, chat_id: str, is_group: bool) -> float:
        """A message goes out now; returns the monotonic time of sending (for `refused`)."""
        now = self._now()
        self.pace.take()
        self._chats[chat_id].append(now)
        return now

    async def acquire(self, chat_id: str, is_group: bool) -> float:
        """Wait for the urgent lane's turn (answers to a person), then record the send; returns its time."""
        self.pace.urgent_waiting += 1
        try:
            while (wait := self.delay(chat_id, is_group, urgent=True)) > 0:
                await asyncio.sleep(wait)
        finally:
            self.pace.urgent_waiting -= 1
        return self.record(chat_id, is_group)

    @staticmethod
    def _window_wait(window: deque[float], now: float, span: float, allowed: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < allowed:
            return 0.0
        return window[-int(allowed)] + span - now
