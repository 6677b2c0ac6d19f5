"""The consumer's metrics: dead letters by reason, batch sizes, and the group's lag sampled beside the loop.

They change no behaviour: a metric must never stop the consumer or alter what it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from fcfs.ports.publisher import DeadLetterPublisher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.events import IssueDeadLettered
    from fcfs.ports.consumer import BatchHandler, ConsumedBatch
    from fcfs.ports.lag import ConsumerLag

log = structlog.get_logger("fcfs.metrics")

LAG_SAMPLE_SECONDS = 15.0


class InstrumentedDeadLetters(DeadLetterPublisher):
    """Counts `fcfs_dead_letters_total{reason}` for every letter the topic accepted."""

    def __init__(self, inner: DeadLetterPublisher, metrics: Metrics) -> None:
        self._inner = inner
        self._counter = metrics.dead_letters

    async def dead_letter(self, letter: IssueDeadLettered) -> None:
        await self._inner.dead_letter(letter)
        self._counter.labels(letter.reason.value).inc()


def instrumented_batches(handler: BatchHandler, metrics: Metrics) -> BatchHandler:
    """Observes `fcfs_consumer_batch_size` once per batch, however often the loop retries it."""
    last: list[ConsumedBatch | None] = [None]

    async def handle(batch: ConsumedBatch) -> object:
        if batch is not last[0]:
            last[0] = batch
            metrics.consumer_batch_size.observe(len(batch))
        return await handler(batch)

    return handle


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
