"""The one mechanism behind pause, resume and close: write the database, then mirror the gate.

The database is the truth and decides races between operators (a conditional UPDATE);
the gate learns the result with its version, so mirrors arriving out of order keep the
newest. The call answers only after both writes, which is what makes "once the pause has
answered, nobody is admitted" hold: SQL strategies read the state in their transaction,
the gate's scripts read the mirror in the same call as the admission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id
from fcfs.domain.coupon_state import ensure_reached, reachable_from
from fcfs.domain.errors import CouponNotFound

if TYPE_CHECKING:
    from fcfs.domain.coupon_state import CouponState
    from fcfs.ports.controls import CouponControls, GateControls


@dataclass(frozen=True, slots=True)
class StateChanged:
    coupon_id: int
    state: CouponState
    version: int


async def change_state(
    coupons: CouponControls, gate: GateControls | None, coupon_id: int, target: CouponState
) -> StateChanged:
    """Moves the coupon to `target` (a no-op when it is there already); a closed coupon stays closed (C005).

    A gate failure after the database write raises (the caller hears it and retries: the
    retry finds the database done and mirrors again); the database is never rolled back.
    """
    ensure_id(coupon_id, "couponId")
    found = await coupons.change_state(coupon_id, target, reachable_from(target))
    if found is None:
        raise CouponNotFound(f"coupon {coupon_id} does not exist")
    mark = ensure_reached(coupon_id, target, found)
    if gate is not None:
        await gate.mirror_state(coupon_id, mark)
    return StateChanged(coupon_id, mark.state, mark.version)
