"""distributed-lock: a Redis lock with lease and bounded wait (Redisson-style) around check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit
from fcfs.strategies._checked_insert import issue_in_transaction
from fcfs.strategies._kit import coupon_key, required

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class DistributedLockStrategy(IssueStrategy):
    """Every process takes the same Redis lock per coupon, and commits before releasing it."""

    name: ClassVar[str] = "distributed-lock"
    description: ClassVar[str] = "Redis lock with lease and wait around check, insert and commit"
    cross_process_safe: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL, Capability.REDIS})

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._lock = required(kit.distributed_lock, "a distributed lock", self.name)

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(self._uow, command, guard=self._lock.hold(coupon_key(command.coupon_id)))
