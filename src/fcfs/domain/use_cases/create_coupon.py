"""Creating a coupon: its window and total are validated by `NewCoupon`, so this only stores it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcfs.domain.coupon import Coupon, NewCoupon
    from fcfs.ports.repositories import CouponRepository


class CreateCoupon:
    def __init__(self, coupons: CouponRepository) -> None:
        self._coupons = coupons

    async def execute(self, new: NewCoupon) -> Coupon:
        return await self._coupons.add(new)
