"""The live view's backends (docs/design.md): the answer counters and a consumer lag shared by its readers.

Reading the lag costs a short-lived broker client (metadata, offsets, a fetch), so the API
worker reads it at most once per `LAG_MAX_AGE_SECONDS` however many consoles watch, and a
console never waits for a slow broker once one value is known (it shows the last one).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Protocol

from fcfs.domain.errors import TemporaryFailure
from fcfs.ports.lag import ConsumerLag
from fcfs.ports.live import AnswerTally, LiveCounters

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from fcfs.adapters.redis.client import RedisClient
    from fcfs.bootstrap.settings import Settings
    from fcfs.ports.gate import GateStock

LAG_MAX_AGE_SECONDS = 1.0
LAG_TIMEOUT_SECONDS = 5.0


class SampledLag(ConsumerLag):
    """At most one read in flight, at most one per `max_age`; callers get the last value at once
    while a fresh read runs. Only the very first caller waits for the broker. While the broker
    cannot tell, callers hear `TemporaryFailure` at once rather than an old figure."""

    def __init__(
        self, inner: ConsumerLag, max_age: float = LAG_MAX_AGE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._inner = inner
        self._max_age = max_age
        self._clock = clock
        self._value: int | None = None
        self._error: TemporaryFailure | None = None
        self._read_at = float("-inf")
        self._reading: asyncio.Task[None] | None = None

    async def total_lag(self) -> int:
        if self._reading is None and self._clock() - self._read_at >= self._max_age:
            self._reading = asyncio.get_running_loop().create_task(self._read())
        if self._value is None and self._error is None and self._reading is not None:
            await asyncio.shield(self._reading)  # the first read: nothing to show before it
        if self._value is not None:
            return self._value
        raise self._error or TemporaryFailure("consumer lag not read yet")

    async def _read(self) -> None:
        try:
            self._value, self._error = await self._inner.total_lag(), None
        except TemporaryFailure as error:
            self._value, self._error = None, error
        finally:
            self._reading = None
            self._read_at = self._clock()


def sampled_lag(settings: Settings) -> ConsumerLag | None:
    """The consumer group's lag on the issue topic; None when no broker is configured."""
    if not settings.kafka_bootstrap_servers:
        return None
    from fcfs.adapters.kafka.lag import KafkaConsumerLag

    reader = KafkaConsumerLag(
        settings.kafka_bootstrap_servers, settings.topic, settings.consumer_group, timeout=LAG_TIMEOUT_SECONDS
    )
    return SampledLag(reader)


class LiveCounterStore(LiveCounters, AnswerTally, Protocol):
    """Both roles of one store: the issue path counts, the live view reads."""


async def live_counters(
    client: RedisClient | None, gate: GateStock | None, prefix: str
) -> AsyncIterator[LiveCounterStore]:
    """Answers counted in Redis when there is one (shared by every instance), else in this process."""
    if client is None:
        from fcfs.adapters.memory.live_counters import MemoryLiveCounters

        yield MemoryLiveCounters(gate)
        return
    from fcfs.adapters.redis.live_counters import RedisLiveCounters

    counters = RedisLiveCounters(client, prefix)
    try:
        yield counters
    finally:
        await counters.aclose()
