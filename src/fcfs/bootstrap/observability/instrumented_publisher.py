"""`fcfs_publish_seconds`: every broker publish on the issue path, timed whether it returned or raised."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fcfs.bootstrap.observability.timed_port import TimedPort
from fcfs.ports.publisher import IssueEventPublisher

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.events import CouponIssued


class InstrumentedPublisher(TimedPort[IssueEventPublisher], IssueEventPublisher):
    async def publish(self, event: CouponIssued) -> None:
        started = time.perf_counter()
        try:
            await self._inner.publish(event)
        finally:
            self._buffer.observe(self._histogram, time.perf_counter() - started)

    @staticmethod
    def histogram(metrics: Metrics) -> Histogram:
        return metrics.publish_seconds


def instrumented_publisher(publisher: IssueEventPublisher | None, metrics: Metrics) -> IssueEventPublisher | None:
    return None if publisher is None else InstrumentedPublisher(publisher, metrics)
