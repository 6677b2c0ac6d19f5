"""The consumer's throttle: at most `rate` records per second into the database (docs/design.md §5)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class RecordThrottle:
    """Virtual-time token bucket: each batch books `n / rate` seconds after the previous booking.

    A batch is let through whole and later batches wait for the time it used, so the rate
    holds over any window longer than one batch; an idle consumer earns no burst beyond
    `burst` records. `rate <= 0` disables it.
    """

    def __init__(self, rate: float, burst: int = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst_seconds = burst / rate if rate > 0 else 0.0
        self._clock = clock
        self._free_at = 0.0

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def delay_for(self, records: int) -> float:
        """Book `records` and return how long to wait before processing them."""
        if not self.enabled or records <= 0:
            return 0.0
        now = self._clock()
        start = max(self._free_at, now - self._burst_seconds)
        self._free_at = start + records / self._rate
        return max(start - now, 0.0)

    async def admit(self, records: int, *interrupts: asyncio.Event) -> None:
        """Wait out the booking for `records`; return early when any of `interrupts` is set."""
        delay = self.delay_for(records)
        if delay <= 0:
            return
        if not interrupts:
            await asyncio.sleep(delay)
            return
        waiters = [asyncio.create_task(event.wait()) for event in interrupts]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
