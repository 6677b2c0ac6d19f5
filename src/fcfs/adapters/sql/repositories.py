"""Coupon and issued-coupon repositories on SQLAlchemy Core (MariaDB/MySQL or SQLite).

The engine must come from `fcfs.adapters.sql.engine.create_engine`: the guarantees below
rely on the connection set-up it does (rowcounts, SQLite's write lock).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select

from fcfs.adapters.sql.batch import BatchOutcome, by_coupon, persist_coupon_events, prepare
from fcfs.adapters.sql.engine import SqlStore
from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.statements import insert_issued_for
from fcfs.adapters.sql.tables import coupon, issued_coupon, to_coupon, to_issued
from fcfs.domain.coupon import Coupon, IssuedCoupon, NewCoupon
from fcfs.domain.issuance import PersistResult
from fcfs.ports.repositories import CouponRepository, IssuedBatchWriter, IssuedCouponRepository

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from fcfs.domain.events import CouponIssued


class SqlCouponRepository(SqlStore, CouponRepository):
    async def add(self, new: NewCoupon) -> Coupon:
        created_at = datetime.now(UTC)
        values = {
            "name": new.name,
            "total_quantity": new.total_quantity,
            "issued_quantity": 0,
            "starts_at": new.window.starts_at,
            "ends_at": new.window.ends_at,
            "created_at": created_at,
        }
        with storage_errors("adding a coupon"):
            async with self._writer.begin() as conn:
                result = await conn.execute(insert(coupon).values(values))
                coupon_id = int(result.lastrowid)
        return Coupon(coupon_id, new.name, new.total_quantity, 0, new.window, created_at)

    async def get(self, coupon_id: int) -> Coupon | None:
        with storage_errors("reading a coupon"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(select(coupon).where(coupon.c.id == coupon_id))).first()
        return None if row is None else to_coupon(row)

    async def delete(self, coupon_id: int) -> bool:
        """Locks the coupon row first (the order `persist_capped` uses), then removes its issued
        rows and itself in one transaction, whether or not the foreign key cascades."""
        locked = select(coupon.c.id).where(coupon.c.id == coupon_id).with_for_update()
        with storage_errors("deleting a coupon"):
            async with self._writer.begin() as conn:
                if (await conn.execute(locked)).first() is None:
                    return False
                await conn.execute(delete(issued_coupon).where(issued_coupon.c.coupon_id == coupon_id))
                await conn.execute(delete(coupon).where(coupon.c.id == coupon_id))
        return True


class SqlIssuedCouponRepository(SqlStore, IssuedCouponRepository, IssuedBatchWriter):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._insert_issued = insert_issued_for(engine.dialect.name)

    async def find(self, coupon_id: int, user_id: int) -> IssuedCoupon | None:
        query = select(issued_coupon).where(issued_coupon.c.coupon_id == coupon_id, issued_coupon.c.user_id == user_id)
        with storage_errors("reading an issued coupon"):
            async with self._engine.connect() as conn:
                row = (await conn.execute(query)).first()
        return None if row is None else to_issued(row)

    async def count(self, coupon_id: int) -> int:
        query = select(func.count()).select_from(issued_coupon).where(issued_coupon.c.coupon_id == coupon_id)
        with storage_errors("counting issued coupons"):
            async with self._engine.connect() as conn:
                return int((await conn.execute(query)).scalar_one())

    async def user_ids(self, coupon_id: int) -> set[int]:
        query = select(issued_coupon.c.user_id).where(issued_coupon.c.coupon_id == coupon_id)
        with storage_errors("reading issued users"):
            async with self._engine.connect() as conn:
                return set((await conn.scalars(query)).all())

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        """One transaction per coupon of the batch, in coupon id order, on one connection.

        A coupon's rows and its `issued_quantity` still move together (invariants 1 and 2
        need no more), but its row lock is released at its own commit instead of being held
        until the batch's last coupon is written: a consumer whose batch also touches that
        coupon waits for one coupon's insert, not for a whole batch's. Returns only after
        every coupon's commit, so the caller's offset commit still follows the database's.
        After a `StorageError` the batch may simply be retried: the rows of coupons already
        committed (like those of an unseen commit) come back as `duplicates`.
        """
        if not events:
            return PersistResult()
        groups = by_coupon(events)
        dialect = self._engine.dialect.name
        batches = [prepare(dialect, coupon_id, groups[coupon_id]) for coupon_id in sorted(groups)]
        out = BatchOutcome()
        with storage_errors("persisting a batch"):
            async with self._writer.connect() as conn:
                for batch in batches:
                    async with conn.begin():
                        await persist_coupon_events(conn, self._insert_issued, batch, out)
        return PersistResult(tuple(out.inserted), tuple(out.duplicates), tuple(out.over_cap), tuple(out.unknown_coupon))
