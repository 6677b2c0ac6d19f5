"""synchronized and synchronized-commit: one process-wide lock per coupon around the check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_commit_after_release, issue_in_transaction
from fcfs.strategies._kit import coupon_key

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class SynchronizedStrategy(IssueStrategy):
    """The lock is released before the commit, so the next holder misses this row (over-issues)."""

    name: ClassVar[str] = "synchronized"
    description: ClassVar[str] = "Process lock around check-and-insert, commit after release (the original's leak)"
    cross_process_safe: ClassVar[bool] = False
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._lock = kit.process_lock

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_commit_after_release(self._uow, command, self._lock.hold(coupon_key(command.coupon_id)))


class SynchronizedCommitStrategy(IssueStrategy):
    """The commit lands inside the lock: correct within one process, blind to every other."""

    name: ClassVar[str] = "synchronized-commit"
    description: ClassVar[str] = "Process lock around check, insert and commit: safe in one process only"
    cross_process_safe: ClassVar[bool] = False
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._lock = kit.process_lock

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command, guard=self._lock.hold(coupon_key(command.coupon_id)))
