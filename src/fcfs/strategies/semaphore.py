"""semaphore: a bulkhead of N permits in front of pessimistic-lock, so waiters never drain the pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_in_transaction
from fcfs.strategies._kit import coupon_key

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class SemaphoreStrategy(IssueStrategy):
    """The row lock keeps it correct; the permits bound how many attempts hold a connection.

    An attempt that gets no permit in time fails with `WaitTimedOut`, having touched nothing.
    """

    name: ClassVar[str] = "semaphore"
    description: ClassVar[str] = "Bounded-wait permits in front of the row-locked check and insert"
    cross_process_safe: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL, Capability.ROW_LOCKS})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._permits = kit.db_permits

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        permit = self._permits.hold(coupon_key(command.coupon_id))
        return await issue_in_transaction(self._uow, command, guard=permit, row_lock=True)
