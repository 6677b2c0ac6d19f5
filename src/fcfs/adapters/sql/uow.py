"""The SQL unit of work the database-coordinated strategies compose.

A transaction rolls back on exit unless `commit()` was called. On MariaDB/MySQL
`coupon(for_update=True)` holds the coupon's row lock until then; SQLite has no row locks
(`supports_row_locks` is False), but each of its transactions holds the database's write
lock from the moment it begins (see engine.py), so no two of them interleave at all.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from fcfs.adapters.sql.engine import for_writes, is_sqlite
from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.statements import InsertIssued, insert_issued_for
from fcfs.adapters.sql.tables import coupon, issued_coupon, to_coupon
from fcfs.domain.coupon import Coupon, IssuedCoupon
from fcfs.domain.coupon_state import CouponState
from fcfs.ports.repositories import IssuanceTransaction, UnitOfWork

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SqlTransaction(IssuanceTransaction):
    def __init__(self, conn: AsyncConnection, insert_issued: InsertIssued) -> None:
        self._conn = conn
        self._insert_issued = insert_issued

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        query = select(coupon).where(coupon.c.id == coupon_id)
        if for_update:
            query = query.with_for_update()
        with storage_errors("reading a coupon"):
            row = (await self._conn.execute(query)).first()
        return None if row is None else to_coupon(row)

    async def count_issued(self, coupon_id: int) -> int:
        query = select(func.count()).select_from(issued_coupon).where(issued_coupon.c.coupon_id == coupon_id)
        with storage_errors("counting issued coupons"):
            return int((await self._conn.execute(query)).scalar_one())

    async def has_issued(self, coupon_id: int, user_id: int) -> bool:
        query = select(issued_coupon.c.id).where(
            issued_coupon.c.coupon_id == coupon_id, issued_coupon.c.user_id == user_id
        )
        with storage_errors("looking up an issued coupon"):
            return (await self._conn.execute(query.limit(1))).first() is not None

    async def reserve_slot(self, coupon_id: int) -> bool:
        statement = (
            update(coupon)
            .where(
                coupon.c.id == coupon_id,
                coupon.c.issued_quantity < coupon.c.total_quantity,
                coupon.c.state == CouponState.OPEN.value,
            )
            .values(issued_quantity=coupon.c.issued_quantity + 1)
        )
        with storage_errors("reserving a slot"):
            return (await self._conn.execute(statement)).rowcount == 1

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        statement = (
            update(coupon).where(coupon.c.id == coupon_id).values(issued_quantity=coupon.c.issued_quantity + amount)
        )
        with storage_errors("updating the issued quantity"):
            await self._conn.execute(statement)

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        """The insert skips a taken (coupon, user) instead of failing, so the transaction stays usable."""
        issued_at = datetime.now(UTC)
        row = {"coupon_id": coupon_id, "user_id": user_id, "event_id": event_id, "issued_at": issued_at}
        with storage_errors("adding an issued coupon"):
            result = await self._conn.execute(self._insert_issued([row]))
        if result.rowcount != 1:
            return None
        return IssuedCoupon(int(result.lastrowid), coupon_id, user_id, issued_at, event_id)

    async def commit(self) -> None:
        with storage_errors("committing"):
            await self._conn.commit()


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = for_writes(engine)
        self._row_locks = not is_sqlite(engine)
        self._insert_issued = insert_issued_for(engine.dialect.name)

    @property
    def supports_row_locks(self) -> bool:
        return self._row_locks

    def begin(self) -> AbstractAsyncContextManager[IssuanceTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[IssuanceTransaction]:
        with storage_errors("beginning a transaction"):
            conn = await self._engine.connect()
        try:
            with storage_errors("beginning a transaction"):
                _ = await conn.begin()
            yield SqlTransaction(conn, self._insert_issued)
        finally:
            with storage_errors("ending a transaction"):
                await conn.close()  # back to the pool, rolling back whatever was not committed
