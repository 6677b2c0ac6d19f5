"""semaphore: a bulkhead of N permits in front of pessimistic-lock, so waiters never drain the pool."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy

if TYPE_CHECKING:
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.strategy import StrategyKit


class SemaphoreStrategy(
    CheckedInsertStrategy, name="semaphore", cross_process_safe=True, needs={Capability.SQL, Capability.ROW_LOCKS}
):
    """Bounded-wait permits in front of the row-locked check and insert.

    The row lock keeps it correct; the permits bound how many attempts hold a connection.

    An attempt that gets no permit in time fails with `WaitTimedOut`, having touched nothing.
    """

    row_lock = True

    def lock(self, kit: StrategyKit) -> KeyedLock:
        return kit.db_permits
