"""The coupons the Redis gate admitted for: what `fcfs reconcile --all` walks.

Only those can disagree with the gate: a coupon no one was admitted for has nothing to
repair, and one the database family decides (`coupon.admission`) must never get gate stock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.tables import coupon
from fcfs.domain.admission import GATE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


async def gate_coupon_ids(engine: AsyncEngine) -> list[int]:
    """Ids of the coupons whose recorded admission family is the Redis gate, ascending."""
    query = select(coupon.c.id).where(coupon.c.admission == GATE).order_by(coupon.c.id)
    with storage_errors("listing the gate's coupons"):
        async with engine.connect() as conn:
            return [int(row.id) for row in await conn.execute(query)]
