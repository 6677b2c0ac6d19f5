"""A bulkhead: at most `limit` calls in a compartment, a bounded wait for a place, then rejection.

A flash sale is decided in the first second; a request that queues for 30 s (the
original answered 408 after that) holds a connection, a coroutine and the user's hope
for nothing. Rejecting fast with 503 S002 keeps latency bounded for those admitted and
tells the rest to retry now, while stock may remain.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.errors import SystemBusy
from fcfs.domain.services import IssueCoupon

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from fcfs.domain.issuance import IssueCommand, IssueOutcome


@dataclass
class BulkheadState:
    in_flight: int = 0
    waiting: int = 0
    rejected: int = 0


class Bulkhead:
    """`observer` sees the state after every change (the container mirrors it into metrics)."""

    def __init__(
        self, name: str, limit: int, wait_seconds: float, observer: Callable[[BulkheadState], None] | None = None
    ) -> None:
        self.name = name
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self._wait = wait_seconds
        self.state = BulkheadState()
        self._observe = observer or (lambda _: None)

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[None]:
        await self._acquire()
        self.state.in_flight += 1
        self._observe(self.state)
        try:
            yield
        finally:
            self.state.in_flight -= 1
            self._semaphore.release()
            self._observe(self.state)

    async def _acquire(self) -> None:
        """A free place is taken at once, with no timer and no task (the common case costs nothing);
        otherwise wait at most `wait_seconds`, then reject."""
        if not self._semaphore.locked():
            await self._semaphore.acquire()  # returns without suspending: a place is free
            return
        self.state.waiting += 1
        self._observe(self.state)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self._wait)
        except TimeoutError:
            self.state.rejected += 1
            raise SystemBusy(f"{self.name}: {self.limit} requests in flight; try again") from None
        finally:
            self.state.waiting -= 1
            self._observe(self.state)


class GuardedIssueCoupon(IssueCoupon):
    """The issue use case behind a bulkhead, applied by the container, not by editing the use case."""

    def __init__(self, inner: IssueCoupon, bulkhead: Bulkhead) -> None:
        self._inner = inner
        self.bulkhead = bulkhead

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        async with self.bulkhead.enter():
            return await self._inner.execute(command, strategy)
