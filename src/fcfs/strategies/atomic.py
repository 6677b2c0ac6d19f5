"""atomic: a process-local counter reserves a unit before the insert (the original's `AtomicInteger`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.admission import ALONE
from fcfs.domain.coupon import require
from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy, record_reserved

if TYPE_CHECKING:
    from fcfs.domain.coupon import Coupon
    from fcfs.domain.issuance import IssueCommand
    from fcfs.ports.repositories import IssuanceTransaction
    from fcfs.ports.strategy import StrategyKit


class AtomicStrategy(
    CheckedInsertStrategy, name="atomic", cross_process_safe=False, needs={Capability.SQL}, admission=ALONE
):
    """Process-local atomic counter reserves a unit before the insert.

    Correct in one process: the counter never lets more than the total through at once.

    The counter is seeded from the rows, so a second process seeds its own and both admit
    the same units. A unit goes back when its attempt ends without a row; a cancelled
    attempt keeps it, because whether its commit landed is unknown and a leaked unit
    under-issues where a wrongly returned one would over-issue.
    """

    def __init__(self, kit: StrategyKit) -> None:
        super().__init__(kit)
        self._issued = kit.issued
        self._slots = kit.slots
        self._totals: dict[int, int] = {}

    async def claim(self, tx: IssuanceTransaction, coupon: Coupon) -> bool:
        return await record_reserved(tx, coupon)

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        coupon_id = command.coupon_id
        if not await self._reserve(coupon_id, await self._total(coupon_id)):
            # A top-up may have raised the total since this process read it: read it once more.
            self._totals.pop(coupon_id, None)
            if not await self._reserve(coupon_id, await self._total(coupon_id)):
                return IssueOutcome(IssueStatus.SOLD_OUT, coupon_id, command.user_id)
        try:
            outcome = await super().issue(command)
        except Exception:
            await self._slots.release(coupon_id)
            raise
        if outcome.status is not IssueStatus.ISSUED:
            await self._slots.release(coupon_id)
        return outcome

    async def _reserve(self, coupon_id: int, total: int) -> bool:
        return await self._slots.reserve(coupon_id, total, lambda: self._issued.count(coupon_id))

    async def _total(self, coupon_id: int) -> int:
        """Read once per process (as the original did), and again only when the counter reaches it."""
        total = self._totals.get(coupon_id)
        if total is None:
            async with self._uow.begin() as tx:
                total = require(await tx.coupon(coupon_id), coupon_id).total_quantity
            self._totals[coupon_id] = total
        return total
