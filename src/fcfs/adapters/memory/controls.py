"""The live controls' in-memory twin, writing the memory database's coupons."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import StateMark
from fcfs.ports.controls import CouponControls

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    from fcfs.adapters.memory.store import MemoryDatabase
    from fcfs.domain.coupon_state import CouponState


class MemoryCouponControls(CouponControls):
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db

    async def change_state(
        self, coupon_id: int, target: CouponState, allowed_from: AbstractSet[CouponState]
    ) -> StateMark | None:
        coupon = self._db.coupons.get(coupon_id)
        if coupon is None:
            return None
        if coupon.state is not target and coupon.state in allowed_from:
            coupon = replace(coupon, state=target, state_version=coupon.state_version + 1)
            self._db.coupons[coupon_id] = coupon
        return StateMark(coupon.state, coupon.state_version)

    async def raise_total(self, coupon_id: int, old_total: int, new_total: int) -> bool:
        coupon = self._db.coupons.get(coupon_id)
        if coupon is None or coupon.total_quantity != old_total:
            return False
        self._db.coupons[coupon_id] = replace(coupon, total_quantity=new_total)
        return True
