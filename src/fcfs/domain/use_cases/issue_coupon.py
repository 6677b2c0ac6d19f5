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
        # A window open at both ends is open at any time: no clock read (a datetime) per attempt.
        bounded = window.starts_at is not None or window.ends_at is not None
        if bounded and window.state_at(self._clock.now()) is not WindowState.OPEN:
            return IssueOutcome(IssueStatus.NOT_OPEN, command.coupon_id, command.user_id)
        guard = self._guard
        if guard is not None and not guard.settled(command.coupon_id, chosen):
            await guard.check(command.coupon_id, chosen)
        return await chosen.issue(command)
