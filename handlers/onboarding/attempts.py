"""Wrong invitation codes counted per person: after 5 in 10 minutes, /start is refused for a while, and logged.

Counted in memory, in the one bot process that receives messages: a stranger's transaction is rolled back (a
stranger leaves no trace in the database), and a guess at a code is no reason to write one. Who typed is kept
only as a hash; the code itself is never kept nor logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict, deque
from datetime import datetime, timedelta

from bot.events import Address

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=10)
LIMIT = 5


class CodeAttempts:
    def __init__(self, limit: int = LIMIT, window: timedelta = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: defaultdict[str, deque[datetime]] = defaultdict(deque)

    @staticmethod
    def _key(address: Address) -> str:
        return hashlib.sha256(f"{address.platform}:{address.user_id}".encode()).hexdigest()[:16]

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def wait(self, address: Address, now: datetime) -> timedelta | None:
        """How long this person must wait before trying a code again; None when they may try now."""
        failures = self._recent(self._key(address), now)
        if len(failures) < self.limit:
            return None
        log.warning("invitation code refused without checking: %d wrong codes in %d min from one person (%s)",
                    len(failures), self.window.seconds // 60, address.platform)
        return failures[-self.limit] + self.window - now

    def failed(self, address: Address, now: datetime) -> None:
        if len(self._failures) > 10_000:  # many people guessing: forget those whose failures are all old
            for stale in list(self._failures):
                self._recent(stale, now)
        key = self._key(address)
        self._recent(key, now)
        self._failures[key].append(now)
        count = len(self._failures[key])
        log.warning("wrong invitation code (%d in %d min from one person, %s)", count, self.window.seconds // 60,
                    address.platform)

    def succeeded(self, address: Address) -> None:
        self._failures.pop(self._key(address), None)


attempts = CodeAttempts()
