"""Loading a coupon's stock into the gate without selling a unit twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id, require
from fcfs.domain.errors import InvalidInput, StockConflict

if TYPE_CHECKING:
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class LoadStock:
    """Puts a coupon's stock into the gate, with the users the database and the gate already hold.

    Default stock is what is not issued yet; asking for more would let the gate admit users
    the database cap must then refuse, so it is a conflict. Users the gate admitted whose
    rows do not exist yet (their events are in flight) stay admitted and keep their units:
    dropping them would admit them twice and sell their units again (invariant 3). The
    coupon's state (open, paused, closed) is mirrored in the same step, so stock loaded
    into an empty gate (after a Redis loss, say) never admits while the coupon is paused.
    """

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: GateStock | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, quantity: int | None = None) -> StockLoaded:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        users = await self._issued.user_ids(coupon_id)
        if self._gate is not None:
            users |= await self._gate.users(coupon_id)
        left = max(coupon.total_quantity - len(users), 0)
        if quantity is None:
            quantity = left
        elif type(quantity) is not int or quantity < 0:
            raise InvalidInput("quantity must be a non-negative integer")
        elif quantity > left:
            raise StockConflict(f"quantity {quantity} exceeds the {left} units not yet issued")
        if self._gate is not None:
            await self._gate.load_stock(coupon_id, quantity, users, coupon.state_mark, coupon.total_quantity)
        return StockLoaded(coupon_id, quantity, len(users))


@dataclass(frozen=True, slots=True)
class StockLoaded:
    coupon_id: int
    stock: int
    issued_users: int
