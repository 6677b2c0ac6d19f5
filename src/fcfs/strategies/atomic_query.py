"""atomic-query: `UPDATE coupon SET issued = issued + 1 WHERE id = ? AND issued < total`, then insert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy, conditional_increment

if TYPE_CHECKING:
    from fcfs.domain.coupon import Coupon
    from fcfs.ports.repositories import IssuanceTransaction


class AtomicQueryStrategy(CheckedInsertStrategy, name="atomic-query", cross_process_safe=True, needs={Capability.SQL}):
    """Conditional UPDATE of issued_quantity below the total, then insert.

    The conditional increment is the cap; a duplicate rolls back, which returns its unit.
    """

    async def claim(self, tx: IssuanceTransaction, coupon: Coupon) -> bool:
        return await conditional_increment(tx, coupon)
