"""Deleting a coupon everywhere it lives: database, gate and the window cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id
from fcfs.domain.errors import CouponNotFound

if TYPE_CHECKING:
    from fcfs.domain.use_cases.coupon_windows import CouponWindows
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository


class DeleteCoupon:
    def __init__(self, coupons: CouponRepository, gate: GateStock | None, windows: CouponWindows) -> None:
        self._coupons = coupons
        self._gate = gate
        self._windows = windows

    async def execute(self, coupon_id: int) -> None:
        ensure_id(coupon_id, "couponId")
        if not await self._coupons.delete(coupon_id):
            raise CouponNotFound(f"coupon {coupon_id} does not exist")
        if self._gate is not None:
            await self._gate.forget(coupon_id)
        self._windows.forget(coupon_id)
