"""Topping up a live coupon: a higher total in the database, then the same units in the gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.coupon import MAX_TOTAL_QUANTITY, ensure_id, require
from fcfs.domain.errors import InvalidInput, StockConflict

if TYPE_CHECKING:
    from fcfs.ports.controls import CouponControls, GateControls
    from fcfs.ports.repositories import CouponRepository


class TopUpStock:
    """Raises `total_quantity` and the gate's stock by the same units; the total is never lowered.

    The database goes first: a crash between the two writes leaves the gate short (fewer
    admitted than the total allows, repaired by loading the stock again), never the gate
    ahead of the cap. The raise is a compare-and-set on the total read just before, so two
    top-ups at once each add their own units exactly once, and the gate gets exactly the
    units the database took. A gate whose stock is not loaded gets nothing: loading it
    later computes the stock from the raised total.
    """

    def __init__(
        self, coupons: CouponRepository, controls: CouponControls, gate: GateControls | None, *, attempts: int = 5
    ) -> None:
        self._coupons = coupons
        self._controls = controls
        self._gate = gate
        self._attempts = attempts

    async def execute(
        self, coupon_id: int, *, add: int | None = None, total_quantity: int | None = None
    ) -> StockToppedUp:
        ensure_id(coupon_id, "couponId")
        if (add is None) == (total_quantity is None):
            raise InvalidInput("a top-up names either add or totalQuantity")
        if add is not None and (type(add) is not int or add < 1):
            raise InvalidInput("add must be a positive integer")
        for _ in range(self._attempts):
            old = require(await self._coupons.get(coupon_id), coupon_id).total_quantity
            new = old + add if add is not None else _raised(old, total_quantity)
            if new > MAX_TOTAL_QUANTITY:
                raise InvalidInput(f"the total would be {new}, above {MAX_TOTAL_QUANTITY}")
            if new == old:
                return StockToppedUp(coupon_id, old, 0, None)
            if await self._controls.raise_total(coupon_id, old, new):
                stock = await self._gate.add_stock(coupon_id, new - old, new) if self._gate is not None else None
                return StockToppedUp(coupon_id, new, new - old, stock)
        raise StockConflict(f"the total of coupon {coupon_id} kept changing during the top-up; try again")


def _raised(old: int, total_quantity: int | None) -> int:
    if type(total_quantity) is not int or total_quantity < old:
        raise InvalidInput(f"totalQuantity may only be raised (it is {old})")
    return total_quantity


@dataclass(frozen=True, slots=True)
class StockToppedUp:
    """`added` units went to the total (0: it was that high already); `stock`: the gate's after, None if not loaded."""

    coupon_id: int
    total_quantity: int
    added: int
    stock: int | None
