"""Closing a coupon now: every later attempt answers C005, as after its window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState
from fcfs.domain.use_cases.state_change import StateChanged, change_state

if TYPE_CHECKING:
    from fcfs.ports.controls import CouponControls, GateControls


class CloseIssuance:
    """Final: a closed coupon is never paused or resumed. Events already accepted are still persisted
    (the consumer does not look at the state), so closing loses no admitted user."""

    def __init__(self, coupons: CouponControls, gate: GateControls | None) -> None:
        self._coupons = coupons
        self._gate = gate

    async def execute(self, coupon_id: int) -> StateChanged:
        return await change_state(self._coupons, self._gate, coupon_id, CouponState.CLOSED)
