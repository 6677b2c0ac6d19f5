"""Hot-path metric updates, summed and written to the metric store once per event-loop turn.

Why: with several workers, prometheus-client keeps every value in a memory-mapped file
(multiprocess mode); one counter increment costs about 1 µs and one histogram observation
about 2 µs, and an issue request made seven of them. Requests finishing in the same loop
turn (a batch's acknowledgement wakes them together) now share one write per value: a
counter gets the sum, a histogram child the per-bucket counts and the sum of the values,
a gauge its last value. The flush runs at the end of the turn (`loop.call_soon`), so a
scrape, or a test reading the registry after awaiting a response, sees every update.
Outside an event loop every update is written through at once.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


class TurnBuffer:
    def __init__(self) -> None:
        self._counters: dict[Any, float] = {}
        self._histograms: dict[Any, list[float]] = {}
        self._gauges: dict[Any, float] = {}
        self._writes: list[Callable[[], None]] = []
        self._scheduled = False

    # Each update tests `_scheduled` itself: all but the first update of a turn then cost no call.

    def inc(self, counter: Any, amount: float = 1.0) -> None:
        """`counter` is a labelled child (or an unlabelled counter) of prometheus-client."""
        self._counters[counter] = self._counters.get(counter, 0.0) + amount
        if not self._scheduled:
            self._schedule()

    def observe(self, histogram: Any, value: float) -> None:
        pending = self._histograms.get(histogram)
        if pending is None:
            self._histograms[histogram] = [value]
        else:
            pending.append(value)
        if not self._scheduled:
            self._schedule()

    def set(self, gauge: Any, value: float) -> None:
        self._gauges[gauge] = value
        if not self._scheduled:
            self._schedule()

    def later(self, write: Callable[[], None]) -> None:
        """`write()` runs at this turn's flush: for state read once per turn (a gauge mirroring it)
        rather than buffered at every change. It writes to the metrics itself."""
        self._writes.append(write)
        if not self._scheduled:
            self._schedule()

    def flush(self) -> None:
        self._scheduled = False
        counters, self._counters = self._counters, {}
        histograms, self._histograms = self._histograms, {}
        gauges, self._gauges = self._gauges, {}
        writes, self._writes = self._writes, []
        for write in writes:
            write()
        for counter, amount in counters.items():
            counter.inc(amount)
        for histogram, values in histograms.items():
            observe_all(histogram, values)
        for gauge, value in gauges.items():
            gauge.set(value)

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)


def observe_all(histogram: Any, values: list[float]) -> None:
    """What `histogram.observe(v)` for each value would store, in one write per touched bucket.

    prometheus-client keeps a histogram child as per-bucket counts (value <= bound, first
    bound that holds) and a sum; `tests/unit/bootstrap/test_metric_buffer.py` checks the exposition
    is the same as observing one by one.
    """
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    total = 0.0
    for value in values:
        total += value
        index = bisect_left(bounds, value)
        if index < len(counts) and value == value:  # NaN: in the sum, in no bucket, as observe() does
            counts[index] += 1
    histogram._sum.inc(total)
    buckets = histogram._buckets
    for index, count in enumerate(counts):
        if count:
            buckets[index].inc(count)
