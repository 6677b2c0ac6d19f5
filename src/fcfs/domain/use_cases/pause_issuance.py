"""Pausing issuance: every attempt answers C009 and consumes nothing until a resume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState
from fcfs.domain.use_cases.state_change import StateChanged, change_state

if TYPE_CHECKING:
    from fcfs.ports.controls import CouponControls, GateControls


class PauseIssuance:
    """Once `execute` returns, no instance admits anyone for the coupon (see `state_change`).

    Attempts already admitted stay admitted: their events are persisted as usual.
    """

    def __init__(self, coupons: CouponControls, gate: GateControls | None) -> None:
        self._coupons = coupons
        self._gate = gate

    async def execute(self, coupon_id: int) -> StateChanged:
        return await change_state(self._coupons, self._gate, coupon_id, CouponState.PAUSED)
