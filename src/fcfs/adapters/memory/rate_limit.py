"""The rate limiter's in-process twin: the Lua script's fixed windows, per process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fcfs.ports.rate_limit import RateLimit, RateLimiter

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class MemoryRateLimiter(RateLimiter):
    """Counts per process: N workers admit up to N times the limit; use the Redis limiter for a shared one."""

    def __init__(self, window_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._now = now
        self._windows: dict[tuple[int, str], tuple[float, int]] = {}

    async def hit(self, coupon_id: int, limits: Sequence[RateLimit]) -> float:
        now = self._now()
        if len(self._windows) > 100_000:
            self._windows = {name: seen for name, seen in self._windows.items() if seen[0] > now}
        wait = 0.0
        for limit in limits:
            ends_at, hits = self._windows.get((coupon_id, limit.subject), (0.0, 0))
            if ends_at <= now:
                ends_at, hits = now + self._window, 0
            hits += 1
            self._windows[(coupon_id, limit.subject)] = (ends_at, hits)
            if hits > limit.limit:
                wait = max(wait, ends_at - now)
        return wait
