"""Resuming a paused coupon: attempts are decided by stock and users again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState
from fcfs.domain.use_cases.state_change import StateChanged, change_state

if TYPE_CHECKING:
    from fcfs.ports.controls import CouponControls, GateControls


class ResumeIssuance:
    """Resuming an open coupon changes nothing; a closed coupon cannot be resumed (C005)."""

    def __init__(self, coupons: CouponControls, gate: GateControls | None) -> None:
        self._coupons = coupons
        self._gate = gate

    async def execute(self, coupon_id: int) -> StateChanged:
        return await change_state(self._coupons, self._gate, coupon_id, CouponState.OPEN)
