"""A strategy from outside the fcfs package, to prove the entry-point seam takes third-party plugins."""

from __future__ import annotations

from typing import ClassVar

from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus
from fcfs.ports.strategy import Capability, IssueStrategy, StrategyKit


class EchoStrategy(IssueStrategy):
    """Issues nothing: answers whether the user already holds a row."""

    name: ClassVar[str] = "echo"
    description: ClassVar[str] = "Reports the user's existing row and issues nothing"
    cross_process_safe: ClassVar[bool] = True
    needs: ClassVar[frozenset[Capability]] = frozenset({Capability.SQL})
    admission: ClassVar[str] = "redis-gate"  # it only reads rows, so it may share a coupon with the gate

    def __init__(self, kit: StrategyKit) -> None:
        self._issued = kit.issued

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        row = await self._issued.find(command.coupon_id, command.user_id)
        if row is None:
            return IssueOutcome(IssueStatus.SOLD_OUT, command.coupon_id, command.user_id)
        return IssueOutcome(IssueStatus.ALREADY_ISSUED, command.coupon_id, command.user_id, issued_id=row.id)
