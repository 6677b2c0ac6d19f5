"""Reading a coupon with what is left of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.admission import trusts_gate_stock
from fcfs.domain.coupon import Coupon, ensure_id, require

if TYPE_CHECKING:
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class ReadCoupon:
    """Issued count is the rows that exist; remaining is the gate's stock when it has one and
    decides for the coupon (not when database-coordinated strategies issue it: the gate never
    sees their admissions, so its stock would be stale)."""

    def __init__(
        self,
        coupons: CouponRepository,
        issued: IssuedCouponRepository,
        gate: GateStock | None,
        admissions: AdmissionLedger | None = None,
    ) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate
        self._admissions = admissions

    async def execute(self, coupon_id: int) -> CouponView:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        issued_count = await self._issued.count(coupon_id)
        gate_stock = await self._gate.remaining(coupon_id) if self._gate is not None else None
        left = max(coupon.total_quantity - issued_count, 0)
        if gate_stock is None:
            return CouponView(coupon, left, issued_count, False)
        if self._admissions is not None and not trusts_gate_stock(await self._admissions.family(coupon_id)):
            return CouponView(coupon, left, issued_count, True)
        return CouponView(coupon, gate_stock, issued_count, True)


@dataclass(frozen=True, slots=True)
class CouponView:
    coupon: Coupon
    remaining: int
    issued_count: int
    stock_loaded: bool
