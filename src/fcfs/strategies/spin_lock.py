"""spin-lock: Redis `SET NX PX` retried with backoff (Lettuce-style) around check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy
from fcfs.strategies._kit import required

if TYPE_CHECKING:
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.strategy import StrategyKit


class SpinLockStrategy(
    CheckedInsertStrategy, name="spin-lock", cross_process_safe=True, needs={Capability.SQL, Capability.REDIS}
):
    """Redis SET NX PX spin lock with backoff around check, insert and commit.

    Safe across processes; waiters poll Redis, so contention costs round trips, not queue places.
    """

    def lock(self, kit: StrategyKit) -> KeyedLock:
        return required(kit.spin_lock, "a spin lock", self.name)
