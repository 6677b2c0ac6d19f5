"""`fcfs_gate_seconds`: the gate's `try_issue`, timed whether it answered or raised.

It wraps only the hot-path port; stock administration never passes through it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fcfs.bootstrap.observability.timed_port import TimedPort
from fcfs.ports.gate import IssuanceGate

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.issuance import GateVerdict


class InstrumentedGate(TimedPort[IssuanceGate], IssuanceGate):
    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        started = time.perf_counter()
        try:
            return await self._inner.try_issue(coupon_id, user_id)
        finally:
            self._buffer.observe(self._histogram, time.perf_counter() - started)

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        return await self._inner.compensate(coupon_id, user_id)

    @staticmethod
    def histogram(metrics: Metrics) -> Histogram:
        return metrics.gate_seconds


def instrumented_gate(gate: IssuanceGate | None, metrics: Metrics) -> IssuanceGate | None:
    return None if gate is None else InstrumentedGate(gate, metrics)
