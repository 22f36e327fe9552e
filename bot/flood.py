"""Per-person limit on incoming messages: a polite warning once, then silence until the minute has passed."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Literal

from bot.events import Address

WINDOW = timedelta(minutes=1)
Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: defaultdict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self._warned: set[tuple[str, str]] = set()

    def check(self, address: Address, now: datetime) -> Verdict:
        if self.per_minute <= 0:
            return "ok"
        if len(self._seen) > 10_000:
            self.forget_idle(now)
        key = (address.platform, address.user_id)
        seen = self._seen[key]
        while seen and seen[0] <= now - WINDOW:
            seen.popleft()
        if len(seen) < self.per_minute:
            seen.append(now)
            self._warned.discard(key)
            return "ok"
        if key in self._warned:
            return "drop"
        self._warned.add(key)
        return "warn"

    def forget_idle(self, now: datetime) -> None:
        """Drop people who have been quiet for a minute (keeps memory flat on a busy bot)."""
        for key in [k for k, seen in self._seen.items() if not seen or seen[-1] <= now - WINDOW]:
            del self._seen[key]
            self._warned.discard(key)
