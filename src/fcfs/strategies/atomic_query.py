"""atomic-query: `UPDATE coupon SET issued = issued + 1 WHERE id = ? AND issued < total`, then insert."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import conditional_increment, issue_in_transaction

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class AtomicQueryStrategy(IssueStrategy):
    """The conditional increment is the cap; a duplicate rolls back, which returns its unit."""

    name: ClassVar[str] = "atomic-query"
    description: ClassVar[str] = "Conditional UPDATE of issued_quantity below the total, then insert"
    cross_process_safe: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command, conditional_increment)
