"""The hot-path timing decorators' common part: the wrapped port, and one buffered observation per call.

A call on the issue path runs on every attempt, so it is timed with two `perf_counter`
reads and one write to the turn buffer, with no context manager and no helper call: a
subclass names the histogram it feeds (`histogram`) and writes
`self._buffer.observe(self._histogram, time.perf_counter() - started)` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from fcfs.bootstrap.observability.metrics import Metrics

PortT = TypeVar("PortT")


class TimedPort(Generic[PortT]):
    def __init__(self, inner: PortT, metrics: Metrics) -> None:
        self._inner = inner
        self._histogram = self.histogram(metrics)
        self._buffer = metrics.buffer

    @staticmethod
    def histogram(metrics: Metrics) -> Histogram:
        """The histogram this decorator feeds."""
        raise NotImplementedError
