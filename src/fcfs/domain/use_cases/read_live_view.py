"""One live-view snapshot of a coupon, read from shared state (docs/design.md, the live view)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.domain.errors import TemporaryFailure
from fcfs.domain.live_view import LiveSnapshot, live_snapshot
from fcfs.domain.use_cases.coupon_reader import CouponReader

if TYPE_CHECKING:
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.lag import ConsumerLag
    from fcfs.ports.live import LiveCounters
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class ReadLiveView(CouponReader):
    """The coupon row first (404 C001 for none), then the gate, the rows, the family and the lag at once.

    The answers are those of the second before `second`: that second is over, so every
    instance has counted it and every instance reads the same figure. A lag the broker
    cannot tell is None, not 0 (and not a failure of the whole snapshot).
    """

    def __init__(
        self,
        coupons: CouponRepository,
        issued: IssuedCouponRepository,
        counters: LiveCounters,
        admissions: AdmissionLedger | None = None,
        lag: ConsumerLag | None = None,
    ) -> None:
        super().__init__(coupons, issued, admissions)
        self._counters = counters
        self._lag = lag

    async def execute(self, coupon_id: int, second: int) -> LiveSnapshot:
        coupon = await self._coupon(coupon_id)
        gate, persisted, gate_decides, lag = await asyncio.gather(
            self._counters.read(coupon_id, second - 1),
            self._issued.count(coupon_id),
            self._gate_decides(coupon_id),
            self._consumer_lag(),
        )
        return live_snapshot(coupon, second, persisted, gate, gate_decides=gate_decides, lag=lag)

    async def _consumer_lag(self) -> int | None:
        if self._lag is None:
            return None
        try:
            return await self._lag.total_lag()
        except TemporaryFailure:
            return None
