"""Process-local locks: they coordinate the coroutines of one process, and nothing beyond it."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from fcfs.domain.errors import WaitTimedOut
from fcfs.ports.locks import KeyedLock, SlotCounter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable


class ProcessLock(KeyedLock):
    """One asyncio lock per key, waited for without bound (the original's `synchronized`)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._locks.setdefault(key, asyncio.Lock())


class TimedProcessLock(KeyedLock):
    """One asyncio lock per key with a bounded wait (the original's `ReentrantLock.tryLock`)."""

    def __init__(self, wait_seconds: float) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._wait = wait_seconds

    @asynccontextmanager
    async def _held(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), self._wait)
        except TimeoutError:
            raise WaitTimedOut(f"lock {key} not acquired within {self._wait}s") from None
        try:
            yield
        finally:
            lock.release()

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._held(key)


class ProcessSemaphore(KeyedLock):
    """N permits for the whole process, whatever the key, with a bounded wait."""

    def __init__(self, permits: int, wait_seconds: float) -> None:
        self._semaphore = asyncio.Semaphore(permits)
        self._wait = wait_seconds

    @asynccontextmanager
    async def _held(self, key: str) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self._wait)
        except TimeoutError:
            raise WaitTimedOut(f"no permit for {key} within {self._wait}s") from None
        try:
            yield
        finally:
            self._semaphore.release()

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._held(key)


class ProcessSlotCounter(SlotCounter):
    """Per-coupon counters; check-and-increment never awaits, so it is atomic within the process."""

    def __init__(self) -> None:
        self._taken: dict[int, int] = {}
        self._seeding: dict[int, asyncio.Lock] = {}

    async def reserve(self, coupon_id: int, limit: int, initial: Callable[[], Awaitable[int]]) -> bool:
        if coupon_id not in self._taken:
            async with self._seeding.setdefault(coupon_id, asyncio.Lock()):
                if coupon_id not in self._taken:
                    self._taken[coupon_id] = await initial()
        if self._taken[coupon_id] >= limit:
            return False
        self._taken[coupon_id] += 1
        return True

    async def release(self, coupon_id: int) -> None:
        if self._taken.get(coupon_id, 0) > 0:
            self._taken[coupon_id] -= 1
