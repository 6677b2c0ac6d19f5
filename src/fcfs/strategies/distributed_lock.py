"""distributed-lock: a Redis lock with lease and bounded wait (Redisson-style) around check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy
from fcfs.strategies._kit import required

if TYPE_CHECKING:
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.strategy import StrategyKit


class DistributedLockStrategy(
    CheckedInsertStrategy, name="distributed-lock", cross_process_safe=True, needs={Capability.SQL, Capability.REDIS}
):
    """Redis lock with lease and wait around check, insert and commit.

    Every process takes the same Redis lock per coupon, and commits before releasing it.
    """

    def lock(self, kit: StrategyKit) -> KeyedLock:
        return required(kit.distributed_lock, "a distributed lock", self.name)
