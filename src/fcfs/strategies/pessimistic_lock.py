"""pessimistic-lock: `SELECT ... FOR UPDATE` on the coupon row, then check and insert."""

from __future__ import annotations

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy


class PessimisticLockStrategy(
    CheckedInsertStrategy,
    name="pessimistic-lock",
    cross_process_safe=True,
    needs={Capability.SQL, Capability.ROW_LOCKS},
):
    """Row lock (SELECT ... FOR UPDATE) on the coupon, then check and insert.

    The database serialises attempts on the coupon row until commit: safe across processes.

    Every waiting attempt holds a pooled connection, which is why `semaphore` puts a bulkhead in front.
    """

    row_lock = True
