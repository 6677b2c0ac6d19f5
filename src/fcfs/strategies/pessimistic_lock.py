"""pessimistic-lock: `SELECT ... FOR UPDATE` on the coupon row, then check and insert."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_in_transaction

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class PessimisticLockStrategy(IssueStrategy):
    """The database serialises attempts on the coupon row until commit: safe across processes.

    Every waiting attempt holds a pooled connection, which is why `semaphore` puts a bulkhead in front.
    """

    name: ClassVar[str] = "pessimistic-lock"
    description: ClassVar[str] = "Row lock (SELECT ... FOR UPDATE) on the coupon, then check and insert"
    cross_process_safe: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL, Capability.ROW_LOCKS})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command, row_lock=True)
