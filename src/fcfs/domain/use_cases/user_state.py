"""What one user's status endpoint shows: issued, pending, failed or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id, require
from fcfs.domain.issuance import UserIssueState

if TYPE_CHECKING:
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class ReadUserIssue:
    """A row means issued; a user the gate admitted without a row yet is pending, until the
    database is full: then the consumer's cap refuses (dead-letters `over_cap`) any event
    still to come for that user, so waiting longer cannot help, and the state is failed."""

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: GateStock | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, user_id: int) -> UserIssueState:
        ensure_id(coupon_id, "couponId")
        ensure_id(user_id, "userId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        if await self._issued.find(coupon_id, user_id) is not None:
            return UserIssueState.ISSUED
        if self._gate is not None and await self._gate.holds_user(coupon_id, user_id):
            if coupon.issued_quantity >= coupon.total_quantity:
                return UserIssueState.FAILED
            return UserIssueState.PENDING
        return UserIssueState.NONE
