"""A small per-client rate limit for the public report form: a sliding window of recent submissions per address.

In-memory and per process, which is what one township service needs; behind a reverse proxy, give the proxy's
forwarded address (uvicorn --proxy-headers) so each reporter counts separately.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RateLimited(Exception):
    """Too many requests from one client; the message says when to try again."""


class SlidingWindow:
    """At most `limit` events per `seconds` for each key."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one event for `key`, or RateLimited when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                wait = int(events[0] + self.seconds - now) + 1
                raise RateLimited(f"提交过于频繁，请 {wait} 秒后再试 (too many reports: try again in {wait} s)")
            events.append(now)
