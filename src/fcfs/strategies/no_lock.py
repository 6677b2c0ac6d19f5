"""no-lock: the control group. Nothing coordinates the check and the insert, so it over-issues."""

from __future__ import annotations

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy


class NoLockStrategy(CheckedInsertStrategy, name="no-lock", cross_process_safe=False, needs={Capability.SQL}):
    """Count, check and insert with no coordination: the race, on purpose.

    Read the count, compare, insert: concurrent attempts all see the same count (breaks invariants 1, 2).
    """
