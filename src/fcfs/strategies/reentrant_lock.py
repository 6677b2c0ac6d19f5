"""reentrant-lock: a process lock with a bounded wait (the original's `ReentrantLock`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_in_transaction
from fcfs.strategies._kit import coupon_key

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class ReentrantLockStrategy(IssueStrategy):
    """Safe in one process; an attempt that cannot get the lock in time fails with `WaitTimedOut`."""

    name: ClassVar[str] = "reentrant-lock"
    description: ClassVar[str] = "Process lock with a wait timeout around check, insert and commit"
    cross_process_safe: ClassVar[bool] = False
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._lock = kit.timed_lock

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command, guard=self._lock.hold(coupon_key(command.coupon_id)))
