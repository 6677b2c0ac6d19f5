"""The live controls' writes to the coupon row (MariaDB/MySQL or SQLite): state and total.

Both are conditional UPDATEs, so the database decides races between operators; the state
is read back in the same transaction (a MySQL rowcount without `CLIENT_FOUND_ROWS` cannot
tell "already so" from "refused"). On MariaDB the UPDATE waits for the coupon's row lock,
which every row-locked issuing transaction and the consumer's capped batch hold until
commit: when it returns, the change is what every later transaction reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from fcfs.adapters.sql.engine import SqlStore
from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.tables import coupon
from fcfs.domain.coupon_state import CouponState, StateMark
from fcfs.ports.controls import CouponControls

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet


class SqlCouponControls(SqlStore, CouponControls):
    async def change_state(
        self, coupon_id: int, target: CouponState, allowed_from: AbstractSet[CouponState]
    ) -> StateMark | None:
        sources = sorted(state.value for state in allowed_from if state is not target)
        change = (
            update(coupon)
            .where(coupon.c.id == coupon_id, coupon.c.state.in_(sources))
            .values(state=target.value, state_version=coupon.c.state_version + 1)
        )
        read = select(coupon.c.state, coupon.c.state_version).where(coupon.c.id == coupon_id)
        with storage_errors("changing the coupon's state"):
            async with self._writer.begin() as conn:
                if sources:
                    await conn.execute(change)
                row = (await conn.execute(read)).first()
        return None if row is None else StateMark(CouponState(row.state), int(row.state_version))

    async def raise_total(self, coupon_id: int, old_total: int, new_total: int) -> bool:
        raise_it = (
            update(coupon)
            .where(coupon.c.id == coupon_id, coupon.c.total_quantity == old_total)
            .values(total_quantity=new_total)
        )
        with storage_errors("raising the coupon's total"):
            async with self._writer.begin() as conn:
                return (await conn.execute(raise_it)).rowcount == 1
