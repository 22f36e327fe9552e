"""Per-platform send limits: a learned global pace (a burst, then a steady rate) shared by two lanes, answers
first; per chat per second and per group per minute windows."""

from __future__ import annotations

import asyncio
import bisect
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

MIN_RATE = 0.05  # messages/s: a learned pace never goes below this (one message every 20 s)
TURN_POLL = 0.002  # an answer woken with a free place but not first in line looks again this soon (the first takes it)
ANSWER_ROOM = 2  # messages of the burst broadcasts leave to answers (two: an estimate a little high still holds)
MARGIN = 0.95  # the bucket is assumed to empty a little slower than learned: an estimate a bit high holds
PROBE_AFTER = 120.0  # seconds of calm before a sure pace tries 5 % faster (an estimate too low, a limit lifted)
RELEARN_AFTER = 3600.0  # seconds without a refusal: the server may have been reconfigured, start over
SENDS_KEPT = 4096  # recent send times kept to count what went through between two refusals
EVIDENCE_KEPT = 8  # pairs of refusals pooled into the learned rate
SURE_AFTER = 8  # messages seen through between pooled refusals before probing slows down to PROBE_AFTER, 5 %
UNSURE_STEP = 1.1  # until then, 10 % faster every UNSURE_BURSTS bursts' worth of calm: a pair of refusals close
UNSURE_BURSTS = 4  # together, read through network jitter, may be 30 % low, and only a refusal brings more evidence


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
    refusals with the bucket never empty in between, and what was sent between them, give the rate (every such
    pair is pooled: a short pair read through network jitter may be off by 10 %, a few long ones are not); a
    refusal within the first burst gives the burst; a calm lets the pace try a little faster (an estimate too
    low, or a limit lifted). Messages are counted by the very time of sending `refused` is given, not by when
    the refusal comes back (Synapse holds a 429 half a second): those sent meanwhile are not counted, and the
    refused one never is (read a microsecond apart, it was counted as gone through: the rate read 10 % high,
    and the pace drifted past the server's until answers met 429s)."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.configured: tuple[float, float] = (rate, burst)
        self.rate, self.burst = rate, float(burst)
        self._now = monotonic
        self._level = 0.0  # messages in the bucket (what the platform still counts against us)
        self._stamp = monotonic()
        self._sent: deque[float] = deque(maxlen=SENDS_KEPT)  # when each recent message left (in order)
        self._refused: deque[float] = deque(maxlen=SENDS_KEPT)  # when each refused one had left
        self._emptied_at = monotonic()  # last time the bucket was seen empty at a send
        self._last_refusal: tuple[float, float] | None = None  # when the refused message left, its retry_after
        self._evidence: deque[tuple[int, float]] = deque(maxlen=EVIDENCE_KEPT)  # (messages through, seconds)
        self._calm_since = monotonic()  # last refusal or last probe
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

    def take(self, now: float) -> None:
        """A message goes out now (`now`: the monotonic time `refused` will be given for it)."""
        if self.rate > 0:
            self._probe()
            if self._leak() < 1:
                self._emptied_at = now
            self._level += 1
        self._sent.append(now)

    def refused(self, retry_after: float, sent_at: float) -> None:
        """The platform said 429 to a message sent at `sent_at` (monotonic), to retry in `retry_after` seconds."""
        now = self._now()
        previous, self._last_refusal = self._last_refusal, (sent_at, retry_after)
        self._refused.append(sent_at)
        self._calm_since = now
        if previous is not None and now - previous[0] > RELEARN_AFTER:
            self.rate, self.burst = self.configured
            previous = None
            self._evidence.clear()
        if self._evidence and self._emptied_at <= sent_at:  # a rate learned: the burst can be read
            through = self._through(self._emptied_at, sent_at)
            if 0 < through < self.burst and sent_at - self._emptied_at < self.burst / self.rate:
                self.burst = through  # refused within a burst that started from an empty bucket
        if previous is not None and previous[0] < sent_at:
            self._learn_rate(previous, sent_at, retry_after)
        if self._evidence:  # what the server showed, also undoing a probe that went past it
            self.rate = max(MIN_RATE, sum(n for n, _ in self._evidence) / sum(span for _, span in self._evidence))
        elif self.rate <= 0:
            self.rate = max(1 / max(retry_after, 0.01), MIN_RATE)
        # The bucket is full now, and will be until retry_after has passed.
        self._level, self._stamp = self.burst + self.rate * retry_after, now

    def _through(self, after: float, before: float) -> int:
        """Messages that left strictly between two moments and were not refused."""
        sent = bisect.bisect_left(self._sent, before) - bisect.bisect_right(self._sent, after)
        return sent - sum(after < t < before for t in self._refused)

    def _learn_rate(self, previous: tuple[float, float], sent_at: float, retry_after: float) -> None:
        """Both refusals found the bucket full: what went through between them leaked out in the meantime, as
        long as the bucket never emptied in between (else what went through would understate the rate)."""
        before_at, before_retry = previous
        if self._emptied_at > before_at or (len(self._sent) == SENDS_KEPT and self._sent[0] > before_at):
            return  # emptied in between, or more sent since than is remembered
        through = self._through(before_at, sent_at)
        span = sent_at - before_at + retry_after - before_retry
        if through >= 3 and span > 0:
            self._evidence.append((through, span))

    def _probe(self) -> None:
        """No refusal for a while although we keep sending: the estimate may be low (or the limit was lifted);
        try 5 % faster, up to what the adapter declared. A refusal brings it back to what the server showed (and
        it falls on a broadcast: answers have room kept for them)."""
        now = self._now()
        sure = sum(count for count, _ in self._evidence) >= SURE_AFTER
        calm = max(PROBE_AFTER if sure else 0.0, UNSURE_BURSTS * self.burst / self.rate)
        if self.rate >= self.configured[0] or now - self._calm_since < calm:
            return
        self.rate, self._calm_since = min(self.configured[0], self.rate * (1.05 if sure else UNSURE_STEP)), now

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
        self._line: deque[object] = deque()  # answers in private waiting for the global pace, oldest first

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
        self.pace.take(now)
        self._chats[chat_id].append(now)
        return now

    async def acquire(self, chat_id: str, is_group: bool) -> float:
        """Wait for the urgent lane's turn (answers to a person), then record the send; returns its time.

        Answers to people in private take the global pace in the order they came. Every waiter sleeps until the
        next place frees and wakes then (a place not taken at once is lost: handing it from one waiter to the next
        cost an extra turn of a busy event loop, and halved the pace in a burst); only the oldest takes it, the
        others sleep again. A newcomer used to take a place the instant it freed, ahead of those asleep: under
        load one answer in a hundred waited seconds. A group's answer keeps to its chat's window first, then
        takes the first free place (it never holds the line)."""
        ticket = object()
        in_line = not is_group
        if in_line:
            self._line.append(ticket)
        self.pace.urgent_waiting += 1
        try:
            while (wait := self.delay(chat_id, is_group, urgent=True)) > 0 or (in_line and self._line[0] is not ticket):
                await asyncio.sleep(wait or TURN_POLL)
            return self.record(chat_id, is_group)
        finally:
            self.pace.urgent_waiting -= 1
            if in_line:
                self._line.remove(ticket)

    @staticmethod
    def _window_wait(window: deque[float], now: float, span: float, allowed: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < allowed:
            return 0.0
        return window[-int(allowed)] + span - now
