"""`fcfs_insert_seconds`: issued-row inserts, one row (SQL-coordinated strategies) or one batch (the consumer).

Each decorator delegates and times only the writing call, whether it returned or raised;
strategies and adapters stay unaware of metrics.
"""

from __future__ import annotations

import contextlib
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fcfs.ports.repositories import IssuanceTransaction, IssuedCoupons, UnitOfWork

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence

    from prometheus_client import Histogram

    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.coupon import Coupon, IssuedCoupon
    from fcfs.domain.events import CouponIssued
    from fcfs.domain.issuance import PersistResult


@contextlib.contextmanager
def _timed(histogram: Histogram) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


class InstrumentedIssuedRepository(IssuedCoupons):
    def __init__(self, inner: IssuedCoupons, metrics: Metrics) -> None:
        self._inner = inner
        self._seconds = metrics.insert_seconds

    async def find(self, coupon_id: int, user_id: int) -> IssuedCoupon | None:
        return await self._inner.find(coupon_id, user_id)

    async def count(self, coupon_id: int) -> int:
        return await self._inner.count(coupon_id)

    async def user_ids(self, coupon_id: int) -> set[int]:
        return await self._inner.user_ids(coupon_id)

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        with _timed(self._seconds):
            return await self._inner.persist_capped(events)


class InstrumentedUnitOfWork(UnitOfWork):
    """Times `add_issued` inside the SQL-coordinated strategies' transactions."""

    def __init__(self, inner: UnitOfWork, metrics: Metrics) -> None:
        self._inner = inner
        self._seconds = metrics.insert_seconds

    @property
    def supports_row_locks(self) -> bool:
        return self._inner.supports_row_locks

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[IssuanceTransaction]:
        async with self._inner.begin() as tx:
            yield _InstrumentedTransaction(tx, self._seconds)


class _InstrumentedTransaction(IssuanceTransaction):
    def __init__(self, inner: IssuanceTransaction, seconds: Histogram) -> None:
        self._inner = inner
        self._seconds = seconds

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        with _timed(self._seconds):
            return await self._inner.add_issued(coupon_id, user_id, event_id)

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        return await self._inner.coupon(coupon_id, for_update=for_update)

    async def count_issued(self, coupon_id: int) -> int:
        return await self._inner.count_issued(coupon_id)

    async def has_issued(self, coupon_id: int, user_id: int) -> bool:
        return await self._inner.has_issued(coupon_id, user_id)

    async def reserve_slot(self, coupon_id: int) -> bool:
        return await self._inner.reserve_slot(coupon_id)

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        await self._inner.add_to_issued_quantity(coupon_id, amount)

    async def commit(self) -> None:
        await self._inner.commit()
