"""A small per-client rate limit for the public report form and sign-in: a sliding window of recent events per
address.

In-memory and per process, which is what one township service needs; behind a reverse proxy, give the proxy's
forwarded address (uvicorn --proxy-headers) so each reporter counts separately.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

#: Addresses remembered before the idle ones are swept out.
SWEEP_ABOVE = 10_000


class RateLimited(Exception):
    """Too many requests from one client; the message says when to try again, `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlidingWindow:
    """At most `limit` events per `seconds` for each key."""

    def __init__(self, limit: int, seconds: float, what: tuple[str, str] = ("提交", "reports")) -> None:
        self.limit, self.seconds = limit, seconds
        self.what = what
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one event for `key`, or RateLimited when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._events) > SWEEP_ABOVE:
                self._sweep(now)
            events = self._events[key]
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                wait = int(events[0] + self.seconds - now) + 1
                zh, en = self.what
                raise RateLimited(f"{zh}过于频繁，请 {wait} 秒后再试 (too many {en}: try again in {wait} s)", wait)
            events.append(now)

    def _sweep(self, now: float) -> None:
        """Forget addresses with nothing in the window, so many one-off clients cannot grow the table for ever."""
        for key in [k for k, events in self._events.items() if not events or events[-1] <= now - self.seconds]:
            del self._events[key]
