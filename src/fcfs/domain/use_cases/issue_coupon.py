"""Issuing: the window and the strategy's family are checked here once, so no strategy has to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon import WindowState
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus

if TYPE_CHECKING:
    from fcfs.domain.use_cases.admission_guard import AdmissionGuard
    from fcfs.domain.use_cases.coupon_windows import CouponWindows
    from fcfs.ports.clock import Clock
    from fcfs.ports.strategy import StrategyCatalog


class IssueCoupon:
    def __init__(
        self, windows: CouponWindows, strategies: StrategyCatalog, clock: Clock, guard: AdmissionGuard | None = None
    ) -> None:
        self._windows = windows
        self._strategies = strategies
        self._clock = clock
        self._guard = guard

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        chosen = self._strategies.get(strategy)
        window = await self._windows.window(command.coupon_id)
        if window.state_at(self._clock.now()) is not WindowState.OPEN:
            return IssueOutcome(IssueStatus.NOT_OPEN, command.coupon_id, command.user_id)
        if self._guard is not None:
            await self._guard.check(command.coupon_id, chosen)
        return await chosen.issue(command)
