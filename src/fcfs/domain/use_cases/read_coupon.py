"""Reading a coupon with what is left of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.use_cases.coupon_reader import CouponReader

if TYPE_CHECKING:
    from fcfs.domain.coupon import Coupon
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class ReadCoupon(CouponReader):
    """Issued count is the rows that exist; remaining is the gate's stock when it has one and
    decides for the coupon (see `CouponReader`), else what the total leaves."""

    def __init__(
        self,
        coupons: CouponRepository,
        issued: IssuedCouponRepository,
        gate: GateStock | None,
        admissions: AdmissionLedger | None = None,
    ) -> None:
        super().__init__(coupons, issued, admissions)
        self._gate = gate

    async def execute(self, coupon_id: int) -> CouponView:
        coupon = await self._coupon(coupon_id)
        issued_count = await self._issued.count(coupon_id)
        gate_stock = await self._gate.remaining(coupon_id) if self._gate is not None else None
        left = max(coupon.total_quantity - issued_count, 0)
        if gate_stock is None:
            return CouponView(coupon, left, issued_count, False)
        if not await self._gate_decides(coupon_id):
            return CouponView(coupon, left, issued_count, True)
        return CouponView(coupon, gate_stock, issued_count, True)


@dataclass(frozen=True, slots=True)
class CouponView:
    coupon: Coupon
    remaining: int
    issued_count: int
    stock_loaded: bool
