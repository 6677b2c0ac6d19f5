"""`fcfs_publish_seconds`: every broker publish on the issue path, timed whether it returned or raised."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fcfs.ports.publisher import IssueEventPublisher

if TYPE_CHECKING:
    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.events import CouponIssued


class InstrumentedPublisher(IssueEventPublisher):
    def __init__(self, inner: IssueEventPublisher, metrics: Metrics) -> None:
        self._inner = inner
        self._seconds = metrics.publish_seconds
        self._buffer = metrics.buffer

    async def publish(self, event: CouponIssued) -> None:
        started = time.perf_counter()
        try:
            await self._inner.publish(event)
        finally:
            self._buffer.observe(self._seconds, time.perf_counter() - started)


def instrumented_publisher(publisher: IssueEventPublisher | None, metrics: Metrics) -> IssueEventPublisher | None:
    return None if publisher is None else InstrumentedPublisher(publisher, metrics)
