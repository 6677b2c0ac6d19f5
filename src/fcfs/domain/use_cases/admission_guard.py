"""Refusing a strategy whose family is not the one issuing the coupon (C010), at no cost per request."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from fcfs.domain.admission import admission_family
from fcfs.domain.errors import CouponNotFound, StrategyConflict

if TYPE_CHECKING:
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.strategy import IssueStrategy

_UNASKED: Final = ""  # no family is the empty string: "not asked yet" needs no sentinel object


class AdmissionGuard:
    """The first attempt on a coupon records its family in the ledger; later ones compare.

    A recorded family never changes (and ids are never reused), so each process asks the
    ledger once per coupon and then answers from memory — a burst that starts cold included
    (single flight: one claim, the other attempts wait for its answer). "No such coupon" is
    remembered too: the guard runs only after the window cache found the coupon, so a
    missing row here means it was deleted, for good. The claim happens before the strategy
    admits anyone, so two families racing for a fresh coupon cannot both admit.
    """

    def __init__(self, ledger: AdmissionLedger) -> None:
        self._ledger = ledger
        self._known: dict[int, str | None] = {}
        self._claiming: dict[int, asyncio.Lock] = {}
        self._passed: dict[int, IssueStrategy] = {}  # the last strategy that passed, per coupon

    def settled(self, coupon_id: int, strategy: IssueStrategy) -> bool:
        """Whether `strategy` (this very object) already passed `check` for the coupon.

        The common case, answered with one look-up and no coroutine (it runs on every
        attempt): a strategy's family is on its card and a coupon's never changes, so a pass
        holds for good. `False` leaves the decision to `check`.
        """
        return self._passed.get(coupon_id) is strategy

    async def check(self, coupon_id: int, strategy: IssueStrategy) -> None:
        strategy_name = strategy.name
        declared: str | None = getattr(strategy, "admission", None)  # a plug-in's card may not name one
        family = admission_family(strategy_name, declared)
        recorded = self._known.get(coupon_id, _UNASKED)
        if recorded == _UNASKED:
            recorded = await self._claim(coupon_id, family)
        if recorded is None:
            raise CouponNotFound(f"coupon {coupon_id} does not exist")
        if recorded != family:
            raise StrategyConflict(
                f"coupon {coupon_id} is issued by {recorded} strategies; {strategy_name!r} ({family}) would not see "
                "their admissions"
            )
        self._passed[coupon_id] = strategy

    async def _claim(self, coupon_id: int, family: str) -> str | None:
        async with self._claiming.setdefault(coupon_id, asyncio.Lock()):
            recorded = self._known.get(coupon_id, _UNASKED)
            if recorded == _UNASKED:
                recorded = self._known[coupon_id] = await self._ledger.claim(coupon_id, family)
        self._claiming.pop(coupon_id, None)
        return recorded
