"""Per-platform send limits (global per second, per chat per second, per group per minute)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    global_per_s: float = 0  # 0: unlimited
    per_chat_per_s: float = 0
    per_group_per_min: float = 0


class RateLimiter:
    """Sliding windows of recent sends; `delay()` says how long to wait before the next one may go."""

    def __init__(self, limits: Limits, monotonic: Any = time.monotonic) -> None:
        self.limits = limits
        self._now = monotonic
        self._global: deque[float] = deque()
        self._chats: defaultdict[str, deque[float]] = defaultdict(deque)
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """The platform asked us to wait (HTTP 429 retry_after): nothing goes out until then."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    def delay(self, chat_id: str, is_group: bool) -> float:
        now = self._now()
        waits = [self._paused_until - now]
        if self.limits.global_per_s:
            waits.append(self._window_wait(self._global, now, 1.0, self.limits.global_per_s))
        chat = self._chats[chat_id]
        if is_group and self.limits.per_group_per_min:
            waits.append(self._window_wait(chat, now, 60.0, self.limits.per_group_per_min))
        elif self.limits.per_chat_per_s:
            waits.append(self._window_wait(chat, now, 1.0, self.limits.per_chat_per_s))
        return max(0.0, *waits)

    def record(self, chat_id: str, is_group: bool) -> None:
        now = self._now()
        self._global.append(now)
        self._chats[chat_id].append(now)

    @staticmethod
    def _window_wait(window: deque[float], now: float, span: float, allowed: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < allowed:
            return 0.0
        return window[-int(allowed)] + span - now
