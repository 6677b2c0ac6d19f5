"""Timing decorators around ports: `fcfs_gate_seconds`, `fcfs_publish_seconds`, `fcfs_insert_seconds`.

Each delegates every method and times only the call on the issue path, whether it
returned or raised; strategies and adapters stay unaware of metrics.
"""

from __future__ import annotations

import contextlib
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fcfs.ports.gate import IssuanceGate
from fcfs.ports.publisher import IssueEventPublisher
from fcfs.ports.repositories import IssuanceTransaction, IssuedCouponRepository, UnitOfWork

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

    from prometheus_client import Histogram

    from fcfs.bootstrap.metrics import Metrics
    from fcfs.domain.coupon import Coupon, IssuedCoupon
    from fcfs.domain.events import CouponIssued
    from fcfs.domain.issuance import GateVerdict, PersistResult


@contextlib.contextmanager
def _timed(histogram: Histogram) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


class TimedGate(IssuanceGate):
    def __init__(self, inner: IssuanceGate, metrics: Metrics) -> None:
        self._inner = inner
        self._seconds = metrics.gate_seconds
        self._buffer = metrics.buffer

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        started = time.perf_counter()  # no context manager: this runs on every issue attempt
        try:
            return await self._inner.try_issue(coupon_id, user_id)
        finally:
            self._buffer.observe(self._seconds, time.perf_counter() - started)

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        return await self._inner.compensate(coupon_id, user_id)

    async def load_stock(self, coupon_id: int, stock: int, issued_users: Iterable[int]) -> None:
        await self._inner.load_stock(coupon_id, stock, issued_users)

    async def remaining(self, coupon_id: int) -> int | None:
        return await self._inner.remaining(coupon_id)

    async def holds_user(self, coupon_id: int, user_id: int) -> bool:
        return await self._inner.holds_user(coupon_id, user_id)

    async def users(self, coupon_id: int) -> set[int]:
        return await self._inner.users(coupon_id)

    async def forget(self, coupon_id: int) -> None:
        await self._inner.forget(coupon_id)


class TimedPublisher(IssueEventPublisher):
    def __init__(self, inner: IssueEventPublisher, metrics: Metrics) -> None:
        self._inner = inner
        self._seconds = metrics.publish_seconds
        self._buffer = metrics.buffer

    async def publish(self, event: CouponIssued) -> None:
        started = time.perf_counter()
        try:
            await self._inner.publish(event)
        finally:
            self._buffer.observe(self._seconds, time.perf_counter() - started)


class TimedIssuedRepository(IssuedCouponRepository):
    def __init__(self, inner: IssuedCouponRepository, metrics: Metrics) -> None:
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


class TimedUnitOfWork(UnitOfWork):
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
            yield _TimedTransaction(tx, self._seconds)


class _TimedTransaction(IssuanceTransaction):
    def __init__(self, inner: IssuanceTransaction, seconds: Histogram) -> None:
        self._inner = inner
        self._seconds = seconds

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

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        with _timed(self._seconds):
            return await self._inner.add_issued(coupon_id, user_id, event_id)

    async def commit(self) -> None:
        await self._inner.commit()


def timed_gate(gate: IssuanceGate | None, metrics: Metrics) -> IssuanceGate | None:
    return None if gate is None else TimedGate(gate, metrics)


def timed_publisher(publisher: IssueEventPublisher | None, metrics: Metrics) -> IssueEventPublisher | None:
    return None if publisher is None else TimedPublisher(publisher, metrics)
