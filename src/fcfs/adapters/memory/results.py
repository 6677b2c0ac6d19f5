"""The in-process twin of the results channel: announcer and listeners in one object.

Used by the in-memory services and wherever no Redis is configured: a consumer running in
the same process announces, and the API's listeners hear it, with the same guarantee as
the Redis fan-out (a listener registered before an announcement hears it).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fcfs.adapters.result_waiter import FutureWaiter
from fcfs.ports.notifications import IssueNotifier, IssueResults, ResultWaiter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fcfs.domain.results import CouponResults


class MemoryIssueResults(IssueNotifier, IssueResults):
    """`subscriptions` counts coupons with listeners, as the Redis fan-out counts its channels."""

    def __init__(self) -> None:
        self._waiters: dict[int, dict[int, set[FutureWaiter]]] = {}
        self.published: list[CouponResults] = []
        self.listeners = 0

    @property
    def subscriptions(self) -> int:
        return len(self._waiters)

    async def publish(self, results: CouponResults) -> None:
        self.published.append(results)
        by_user = self._waiters.get(results.coupon_id, {})
        for user_id in (*results.persisted, *results.refused):
            result = results.for_user(user_id)
            for waiter in by_user.get(user_id, ()):
                if result is not None and not waiter.future.done():
                    waiter.future.set_result(result)

    @asynccontextmanager
    async def subscribe(self, coupon_id: int, user_id: int) -> AsyncIterator[ResultWaiter]:
        waiter = FutureWaiter(asyncio.get_running_loop().create_future())
        self._waiters.setdefault(coupon_id, {}).setdefault(user_id, set()).add(waiter)
        self.listeners += 1
        try:
            yield waiter
        finally:
            self.listeners -= 1
            by_user = self._waiters[coupon_id]
            by_user[user_id].discard(waiter)
            if not by_user[user_id]:
                del by_user[user_id]
            if not by_user:
                del self._waiters[coupon_id]
