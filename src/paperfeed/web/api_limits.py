"""Request limits for the JSON API: sliding-window counters kept in the worker process.

Login attempts are counted in the database (``Community.authenticate``) because an
attacker guessing passwords must be stopped across every worker. The API's limits
guard against runaway scripts instead (a loop upvoting, a loop submitting papers
that each trigger an arXiv fetch), where a per-process count is enough: with N
workers a client gets at most N times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from paperfeed.community import RateLimited

#: Above this many keys, forget the ones whose window has passed (bounded memory).
_PRUNE_AT = 10_000


class SlidingWindowLimiter:
    """At most ``limit`` events per key in any ``window_seconds``; thread-safe."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        what: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.limit = limit
        self.window = window_seconds
        self.what = what
        self._clock = clock
        self._events: dict[object, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: object, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def retry_after(self, key: object) -> int | None:
        """Seconds until ``key`` may act again, or None if it may act now."""
        with self._lock:
            now = self._clock()
            events = self._recent(key, now)
            if len(events) < self.limit:
                return None
            return max(1, math.ceil(events[0] + self.window - now))

    def check(self, key: object) -> None:
        """Raise :class:`RateLimited` (HTTP 429 with Retry-After) if ``key`` is over the limit."""
        wait = self.retry_after(key)
        if wait is not None:
            raise RateLimited(f"too many {self.what}; try again in {wait} s", retry_after=wait)

    def record(self, key: object) -> None:
        with self._lock:
            now = self._clock()
            self._recent(key, now).append(now)
            if len(self._events) > _PRUNE_AT:
                for stale in [
                    k for k, v in self._events.items() if not v or v[-1] <= now - self.window
                ]:
                    del self._events[stale]

    def hit(self, key: object) -> None:
        """:meth:`check`, then count this event."""
        self.check(key)
        self.record(key)


class ApiLimits:
    """The API's three limits, sized from settings (``PAPERFEED_API_*``)."""

    def __init__(
        self,
        *,
        writes_per_minute: int,
        submissions_per_hour: int,
        bad_tokens_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writes = SlidingWindowLimiter(writes_per_minute, 60, what="changes", clock=clock)
        self.submissions = SlidingWindowLimiter(
            submissions_per_hour, 3600, what="submissions", clock=clock
        )
        self.bad_tokens = SlidingWindowLimiter(
            bad_tokens_per_minute, 60, what="requests with a wrong token", clock=clock
        )
