"""Refusing a strategy whose family is not the one issuing the coupon (C010), at no cost per request."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fcfs.domain.admission import admission_family
from fcfs.domain.errors import CouponNotFound, StrategyConflict

if TYPE_CHECKING:
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.strategy import IssueStrategy


class AdmissionGuard:
    """The first attempt on a coupon records its family in the ledger; later ones compare.

    A recorded family never changes (and ids are never reused), so each process asks the
    ledger once per coupon and then answers from memory. The claim happens before the
    strategy admits anyone, so two families racing for a fresh coupon cannot both admit.
    """

    def __init__(self, ledger: AdmissionLedger) -> None:
        self._ledger = ledger
        self._known: dict[int, str] = {}

    async def check(self, coupon_id: int, strategy: IssueStrategy) -> None:
        strategy_name = strategy.name
        family = admission_family(strategy_name, cast("str | None", getattr(strategy, "admission", None)))
        recorded = self._known.get(coupon_id)
        if recorded is None:
            recorded = await self._ledger.claim(coupon_id, family)
            if recorded is None:
                raise CouponNotFound(f"coupon {coupon_id} does not exist")
            self._known[coupon_id] = recorded
        if recorded != family:
            raise StrategyConflict(
                f"coupon {coupon_id} is issued by {recorded} strategies; {strategy_name!r} ({family}) would not see "
                "their admissions"
            )

    def forget(self, coupon_id: int) -> None:
        self._known.pop(coupon_id, None)
