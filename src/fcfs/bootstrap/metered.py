"""Counting decorators the container applies: issue outcomes, bulkhead state, DB pool, consumer hooks.

They change no behaviour: each delegates and records, so use cases, strategies and
adapters stay unaware of metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import structlog

from fcfs.domain.errors import FcfsError
from fcfs.domain.services import IssueCoupon
from fcfs.ports.publisher import DeadLetterPublisher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from fcfs.bootstrap.bulkhead import BulkheadState
    from fcfs.bootstrap.metrics import Metrics
    from fcfs.domain.events import IssueDeadLettered
    from fcfs.domain.issuance import IssueCommand, IssueOutcome
    from fcfs.ports.consumer import BatchHandler, ConsumedBatch
    from fcfs.ports.lag import ConsumerLag
    from fcfs.ports.strategy import StrategyCatalog

log = structlog.get_logger("fcfs.metrics")


class MeteredIssueCoupon(IssueCoupon):
    """Outermost wrapper of the issue use case: every attempt counted by the code it was answered with."""

    def __init__(self, inner: IssueCoupon, strategies: StrategyCatalog, metrics: Metrics) -> None:
        self._inner = inner
        self._strategies = strategies
        self._metrics = metrics
        self._known: set[str] = set()
        self._outcomes: dict[tuple[str, str], Any] = {}
        self._latency: dict[str, Any] = {}

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        label = self._label(strategy)
        started = time.perf_counter()
        code = "G001"
        try:
            outcome = await self._inner.execute(command, strategy)
            code = outcome.status.code.code
            return outcome
        except FcfsError as error:
            code = error.code.code
            raise
        finally:
            buffer = self._metrics.buffer
            buffer.observe(self._latency_of(label), time.perf_counter() - started)
            buffer.inc(self._outcome_of(code, label))

    def _latency_of(self, label: str) -> Any:
        child = self._latency.get(label)
        if child is None:
            child = self._latency[label] = self._metrics.issue_latency.labels(label)
        return child

    def _outcome_of(self, code: str, label: str) -> Any:
        child = self._outcomes.get((code, label))
        if child is None:
            child = self._outcomes[(code, label)] = self._metrics.issue_outcomes.labels(code, label)
        return child

    def _label(self, strategy: str | None) -> str:
        """A requested name becomes a label only once it resolved, so labels cannot be invented by requests."""
        if strategy is None:
            return self._strategies.default_name
        if strategy in self._known:
            return strategy
        try:
            self._strategies.get(strategy)
        except FcfsError:
            return "unknown"
        self._known.add(strategy)
        return strategy


def bulkhead_observer(metrics: Metrics) -> Callable[[BulkheadState], None]:
    """Mirrors a bulkhead's state into the gauges, writing only the values that changed."""
    seen = [0, 0, 0]  # in flight, waiting, rejected

    buffer = metrics.buffer

    def observe(state: BulkheadState) -> None:
        if state.in_flight != seen[0]:
            seen[0] = state.in_flight
            buffer.set(metrics.bulkhead_in_flight, state.in_flight)
        if state.waiting != seen[1]:
            seen[1] = state.waiting
            buffer.set(metrics.bulkhead_waiting, state.waiting)
        if state.rejected > seen[2]:
            buffer.inc(metrics.bulkhead_rejected, state.rejected - seen[2])
            seen[2] = state.rejected

    return observe


def watch_pool(engine: Any, metrics: Metrics) -> None:
    """`fcfs_db_pool_in_use` follows the engine's connection checkouts and checkins."""
    from sqlalchemy import event

    gauge = metrics.db_pool_in_use
    event.listen(engine.sync_engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: gauge.dec())


# --- The consumer's metrics: hooks the pipeline wiring applies (see PipelineContainer) ---------------------------


class MeteredDeadLetters(DeadLetterPublisher):
    """Counts `fcfs_dead_letters_total{reason}` for every letter the topic accepted."""

    def __init__(self, inner: DeadLetterPublisher, metrics: Metrics) -> None:
        self._inner = inner
        self._counter = metrics.dead_letters

    async def dead_letter(self, letter: IssueDeadLettered) -> None:
        await self._inner.dead_letter(letter)
        self._counter.labels(letter.reason.value).inc()


def metered_batches(handler: BatchHandler, metrics: Metrics) -> BatchHandler:
    """Observes `fcfs_consumer_batch_size` once per batch, however often the loop retries it."""
    last: list[ConsumedBatch | None] = [None]

    async def handle(batch: ConsumedBatch) -> object:
        if batch is not last[0]:
            last[0] = batch
            metrics.consumer_batch_size.observe(len(batch))
        return await handler(batch)

    return handle


LAG_SAMPLE_SECONDS = 15.0


async def sample_consumer_lag(lag: ConsumerLag, metrics: Metrics, stop: asyncio.Event, interval: float) -> None:
    """Sets `fcfs_consumer_lag` every `interval` seconds until `stop`; a failed reading keeps the last value."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            metrics.consumer_lag.set(await lag.total_lag())
        except Exception as error:  # a metric must never stop the consumer
            log.warning("consumer_lag_unknown", error=repr(error))


@contextlib.asynccontextmanager
async def consumer_lag_sampled(
    lag: ConsumerLag, metrics: Metrics, interval: float = LAG_SAMPLE_SECONDS
) -> AsyncIterator[None]:
    """The lag sampler runs beside the block (the consumer process) and stops with it."""
    stop = asyncio.Event()
    task = asyncio.create_task(sample_consumer_lag(lag, metrics, stop, interval))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
