"""synchronized and synchronized-commit: one process-wide lock per coupon around the check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy, issue_commit_after_release

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.strategy import StrategyKit


class _ProcessLocked(CheckedInsertStrategy):
    def lock(self, kit: StrategyKit) -> KeyedLock:
        return kit.process_lock


class SynchronizedCommitStrategy(
    _ProcessLocked, name="synchronized-commit", cross_process_safe=False, needs={Capability.SQL}
):
    """Process lock around check, insert and commit: safe in one process only.

    The commit lands inside the lock: correct within one process, blind to every other.
    """


class SynchronizedStrategy(_ProcessLocked, name="synchronized", cross_process_safe=False, needs={Capability.SQL}):
    """Process lock around check-and-insert, commit after release (the original's leak).

    The lock is released before the commit, so the next holder misses this row (over-issues).
    """

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_commit_after_release(self._uow, command, self.guard(command))
