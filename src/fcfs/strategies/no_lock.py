"""no-lock: the control group. Nothing coordinates the check and the insert, so it over-issues."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_in_transaction

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class NoLockStrategy(IssueStrategy):
    """Read the count, compare, insert: concurrent attempts all see the same count (breaks invariants 1, 2)."""

    name: ClassVar[str] = "no-lock"
    description: ClassVar[str] = "Count, check and insert with no coordination: the race, on purpose"
    cross_process_safe: ClassVar[bool] = False
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command)
