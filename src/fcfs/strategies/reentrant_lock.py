"""reentrant-lock: a process lock with a bounded wait (the original's `ReentrantLock`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy

if TYPE_CHECKING:
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.strategy import StrategyKit


class ReentrantLockStrategy(
    CheckedInsertStrategy, name="reentrant-lock", cross_process_safe=False, needs={Capability.SQL}
):
    """Process lock with a wait timeout around check, insert and commit.

    Safe in one process; an attempt that cannot get the lock in time fails with `WaitTimedOut`.
    """

    def lock(self, kit: StrategyKit) -> KeyedLock:
        return kit.timed_lock
