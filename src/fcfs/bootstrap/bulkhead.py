"""A bulkhead: at most `limit` calls in a compartment, a bounded wait for a place, then rejection.

A flash sale is decided in the first second; a request that queues for 30 s (the
original answered 408 after that) holds a connection, a coroutine and the user's hope
for nothing. Rejecting fast with 503 S002 keeps latency bounded for those admitted and
tells the rest to retry now, while stock may remain.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.errors import SystemBusy
from fcfs.ports.use_cases import IssuesCoupons

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.domain.issuance import IssueCommand, IssueOutcome


@dataclass
class BulkheadState:
    in_flight: int = 0
    waiting: int = 0
    rejected: int = 0


class Bulkhead:
    """`observer` sees the state after every change (the container mirrors it into metrics).

    A counter and a queue of waiters rather than `asyncio.Semaphore`: on Python 3.11
    `Semaphore.locked()` walks every waiter, and the issue path asks it on every request.
    A released place goes straight to the oldest waiter, so waiting is first come, first served.
    """

    def __init__(
        self, name: str, limit: int, wait_seconds: float, observer: Callable[[BulkheadState], None] | None = None
    ) -> None:
        self.name = name
        self.limit = limit
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._wait = wait_seconds
        self.state = BulkheadState()
        self._observe = observer or (lambda _: None)

    def enter(self) -> _Place:
        """`async with bulkhead.enter():` holds a place for the block."""
        return _Place(self)

    async def acquire(self) -> None:
        """A free place is taken at once, with no timer and no future (the common case costs nothing);
        otherwise wait at most `wait_seconds`, then reject with `SystemBusy`."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            await self._queue()
        self.state.in_flight += 1
        self._observe(self.state)

    def release(self) -> None:
        self.state.in_flight -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place passes to the oldest waiter
                break
        else:
            self._free += 1
        self._observe(self.state)

    async def _queue(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.state.waiting += 1
        self._observe(self.state)
        try:
            async with asyncio.timeout(self._wait):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the place arrived as the wait ran out: it is ours
            self.state.rejected += 1
            raise SystemBusy(f"{self.name}: {self.limit} requests in flight; try again") from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.state.in_flight += 1  # cancelled after a place was handed over: pass it on
                self.release()
            raise
        finally:
            self.state.waiting -= 1
            self._observe(self.state)


class _Place:
    __slots__ = ("_bulkhead",)

    def __init__(self, bulkhead: Bulkhead) -> None:
        self._bulkhead = bulkhead

    async def __aenter__(self) -> None:
        await self._bulkhead.acquire()

    async def __aexit__(self, *_: object) -> None:
        self._bulkhead.release()


class GuardedIssueCoupon(IssuesCoupons):
    """The issue use case behind a bulkhead, applied by the container, not by editing the use case."""

    def __init__(self, inner: IssuesCoupons, bulkhead: Bulkhead) -> None:
        self._inner = inner
        self.bulkhead = bulkhead

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        await self.bulkhead.acquire()
        try:
            return await self._inner.execute(command, strategy)
        finally:
            self.bulkhead.release()
