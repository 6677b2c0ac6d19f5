"""An in-memory database with the same guarantees the SQL adapter gives (unique key, capped batch)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcfs.domain.coupon import Coupon, IssuedCoupon, NewCoupon
from fcfs.domain.coupon_state import CouponState
from fcfs.domain.issuance import PersistResult
from fcfs.ports.repositories import (
    CouponRepository,
    IssuanceTransaction,
    IssuedBatchWriter,
    IssuedCouponRepository,
    UnitOfWork,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from fcfs.domain.events import CouponIssued


@dataclass
class MemoryDatabase:
    coupons: dict[int, Coupon] = field(default_factory=dict)
    issued: dict[tuple[int, int], IssuedCoupon] = field(default_factory=dict)
    row_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    inflight: dict[tuple[int, int], asyncio.Event] = field(default_factory=dict)  # uncommitted unique keys
    next_coupon_id: int = 1
    next_issued_id: int = 1

    def insert_issued(self, coupon_id: int, user_id: int, event_id: str | None) -> IssuedCoupon | None:
        if (coupon_id, user_id) in self.issued:
            return None
        row = IssuedCoupon(self.next_issued_id, coupon_id, user_id, datetime.now(UTC), event_id)
        self.next_issued_id += 1
        self.issued[(coupon_id, user_id)] = row
        return row

    def bump(self, coupon_id: int, amount: int) -> None:
        coupon = self.coupons[coupon_id]
        self.coupons[coupon_id] = replace(coupon, issued_quantity=coupon.issued_quantity + amount)

    def rows_of(self, coupon_id: int) -> list[IssuedCoupon]:
        return [row for (cid, _), row in self.issued.items() if cid == coupon_id]


class MemoryCouponRepository(CouponRepository):
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def add(self, new: NewCoupon) -> Coupon:
        coupon = Coupon(self._db.next_coupon_id, new.name, new.total_quantity, 0, new.window, datetime.now(UTC))
        self._db.next_coupon_id += 1
        self._db.coupons[coupon.id] = coupon
        return coupon

    async def get(self, coupon_id: int) -> Coupon | None:
        return self._db.coupons.get(coupon_id)

    async def delete(self, coupon_id: int) -> bool:
        if self._db.coupons.pop(coupon_id, None) is None:
            return False
        for key in [key for key in self._db.issued if key[0] == coupon_id]:
            del self._db.issued[key]
        return True


class MemoryIssuedCouponRepository(IssuedCouponRepository, IssuedBatchWriter):
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def find(self, coupon_id: int, user_id: int) -> IssuedCoupon | None:
        return self._db.issued.get((coupon_id, user_id))

    async def count(self, coupon_id: int) -> int:
        return len(self._db.rows_of(coupon_id))

    async def user_ids(self, coupon_id: int) -> set[int]:
        return {row.user_id for row in self._db.rows_of(coupon_id)}

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        inserted: list[str] = []
        duplicates: list[str] = []
        over_cap: list[str] = []
        unknown: list[str] = []
        for event in events:
            coupon = self._db.coupons.get(event.coupon_id)
            if coupon is None:
                unknown.append(event.event_id)
            elif (event.coupon_id, event.user_id) in self._db.issued:
                duplicates.append(event.event_id)
            elif coupon.issued_quantity >= coupon.total_quantity:
                over_cap.append(event.event_id)
            else:
                self._db.insert_issued(event.coupon_id, event.user_id, event.event_id)
                self._db.bump(event.coupon_id, 1)
                inserted.append(event.event_id)
        return PersistResult(tuple(inserted), tuple(duplicates), tuple(over_cap), tuple(unknown))


class MemoryTransaction(IssuanceTransaction):
    """Buffers writes until commit and yields between steps, so unsafe strategies really race.

    Behaves as InnoDB does where the strategies depend on it: an insert whose unique key
    another open transaction holds waits for that one to end (then sees its row or not),
    and the conditional increment holds the coupon's row lock until commit or rollback.
    """

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._writes: list[tuple[int, int, str | None]] = []
        self._bumps: dict[int, int] = {}
        self._pending_bumps: list[tuple[int, int]] = []
        self._reserved: list[tuple[int, int]] = []
        self.held: list[asyncio.Lock] = []

    async def _lock_row(self, coupon_id: int) -> None:
        lock = self._db.row_locks.setdefault(coupon_id, asyncio.Lock())
        if lock in self.held:
            return
        await lock.acquire()
        self.held.append(lock)

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        if for_update:
            await self._lock_row(coupon_id)
        await asyncio.sleep(0)
        return self._db.coupons.get(coupon_id)

    async def count_issued(self, coupon_id: int) -> int:
        await asyncio.sleep(0)
        return len(self._db.rows_of(coupon_id))

    async def has_issued(self, coupon_id: int, user_id: int) -> bool:
        await asyncio.sleep(0)
        return (coupon_id, user_id) in self._db.issued

    async def reserve_slot(self, coupon_id: int) -> bool:
        await self._lock_row(coupon_id)
        coupon = self._db.coupons.get(coupon_id)
        if coupon is None or coupon.issued_quantity >= coupon.total_quantity or coupon.state is not CouponState.OPEN:
            return False
        self._db.bump(coupon_id, 1)  # one statement: atomic, like the SQL conditional UPDATE
        self._bumps[coupon_id] = self._bumps.get(coupon_id, 0) - 1  # undone on rollback
        return True

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        self._pending_bumps.append((coupon_id, amount))

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        await asyncio.sleep(0)
        key = (coupon_id, user_id)
        if key in self._reserved:
            return None
        while key in self._db.inflight:
            await self._db.inflight[key].wait()
        if key in self._db.issued:
            return None
        self._db.inflight[key] = asyncio.Event()
        self._reserved.append(key)
        self._writes.append((coupon_id, user_id, event_id))
        return IssuedCoupon(0, coupon_id, user_id, datetime.now(UTC), event_id)

    def _release_reservations(self) -> None:
        for key in self._reserved:
            event = self._db.inflight.pop(key, None)
            if event is not None:
                event.set()
        self._reserved.clear()

    async def commit(self) -> None:
        for coupon_id, user_id, event_id in self._writes:
            self._db.insert_issued(coupon_id, user_id, event_id)
        for coupon_id, amount in self._pending_bumps:
            self._db.bump(coupon_id, amount)
        self._writes.clear()
        self._pending_bumps.clear()
        self._bumps.clear()
        self._release_reservations()

    def rollback(self) -> None:
        for coupon_id, amount in self._bumps.items():
            if amount:
                self._db.bump(coupon_id, amount)
        self._writes.clear()
        self._pending_bumps.clear()
        self._bumps.clear()
        self._release_reservations()


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, db: MemoryDatabase, *, row_locks: bool = True) -> None:
        self._db = db
        self._row_locks = row_locks

    @property
    def supports_row_locks(self) -> bool:
        return self._row_locks

    def _open(self) -> MemoryTransaction:
        """A new transaction on the database (the InnoDB twin opens its own kind)."""
        return MemoryTransaction(self._db)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[MemoryTransaction]:
        tx = self._open()
        try:
            yield tx
        finally:
            tx.rollback()
            for lock in tx.held:
                lock.release()

    def begin(self) -> AbstractAsyncContextManager[MemoryTransaction]:
        return self._transaction()
