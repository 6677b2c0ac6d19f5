"""The batch consumer loop (docs/design.md §5, §6.4): poll, decode, hand the batch over, then commit.

Offsets `{tp: last.offset + 1}` are committed only after the handler returned, that is
after the database commit and after every dead letter was written. Nothing else commits:
auto-commit is off, and a batch is never committed in part. So at every moment the
committed offset of a partition is at or before the first record not yet durable, and a
crash anywhere (SIGKILL included) only makes the next owner redo work the idempotent
insert turns into no rows.

A batch in flight when the group rebalances or the process is asked to stop either
finishes and commits within a grace period, or is abandoned (cancelled, not committed):
the partition's next owner reads it again from the committed offset. A handler that
raises an `FcfsError` (a dead letter not written, say) is retried on the same records with
capped backoff until it succeeds, the batch is abandoned, or the loop stops.

While the handler waits on the database, the next batch is already fetched and decoded,
so the consumer's own CPU work overlaps the database's instead of adding to it. That batch
is handled only once the current one is durable; if the current one is abandoned instead,
the fetched one is dropped and its partitions rewound (`give_back`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError, KafkaError

from fcfs.adapters.kafka.fetched_batch import Fetched, Records, fetched, give_back
from fcfs.adapters.kafka.liveness import Heartbeat
from fcfs.adapters.kafka.throttle import RecordThrottle
from fcfs.domain.errors import FcfsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiokafka.structs import TopicPartition

    from fcfs.ports.consumer import BatchHandler, ConsumedBatch

log = structlog.get_logger("fcfs.consumer")


class KafkaBatchConsumer:
    """One member of the consumer group; `run` until `stop` is set. Counters are for tests and metrics."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        handler: BatchHandler,
        batch_size: int = 500,
        max_rate: float = 0.0,
        poll_timeout: float = 0.5,
        retry_initial_seconds: float = 0.1,
        retry_max_seconds: float = 30.0,
        revoke_grace_seconds: float = 10.0,
        stop_grace_seconds: float = 5.0,
        heartbeat: Heartbeat | None = None,
        client_id: str = "fcfs-consumer",
        client_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._group = group_id
        self._handler = handler
        self._batch_size = batch_size
        self._throttle = RecordThrottle(max_rate)
        self._poll_ms = max(int(poll_timeout * 1000), 1)
        self._retry_initial = retry_initial_seconds
        self._retry_max = max(retry_max_seconds, retry_initial_seconds)
        self._revoke_grace = revoke_grace_seconds
        self._stop_grace = stop_grace_seconds
        self.heartbeat = heartbeat or Heartbeat()
        self._client_id = client_id
        self._client_factory = client_factory or self._client
        self._in_flight = asyncio.Lock()
        self._abandon = asyncio.Event()
        self.records_committed = 0
        self.batches_committed = 0
        self.batches_abandoned = 0
        self.commits_refused = 0
        self.handler_failures = 0
        self.last_result: object = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = await self._started(stop)
        if consumer is None:
            return
        ahead: asyncio.Task[Fetched | None] | None = None
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                current = await (ahead or self._fetch(consumer, stop))
                ahead = None
                if current is not None:
                    ahead = await self._process(consumer, current, stop)
        except ConsumerStoppedError:
            log.info("consumer_stopped_underneath")
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            log.info("consumer_stopping", committed=self.records_committed, abandoned=self.batches_abandoned)
            await consumer.stop()
            self.heartbeat.clear()

    async def _started(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        """A started consumer subscribed with the rebalance listener; keeps trying while the broker is away."""
        delay = self._retry_initial
        while not stop.is_set():
            consumer = self._client_factory()
            consumer.subscribe([self._topic], listener=_FinishOrAbandon(self))
            try:
                await consumer.start()
            except KafkaError as error:
                await consumer.stop()
                log.warning("consumer_start_failed", error=repr(error), retry_in=delay)
                await _wait(stop, delay)
                delay = min(delay * 2, self._retry_max)
                continue
            log.info("consumer_started", topic=self._topic, group=self._group)
            return consumer
        return None

    def _client(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
        )

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> Records:
        try:
            records: Records = await consumer.getmany(timeout_ms=self._poll_ms, max_records=self._batch_size)
        except ConsumerStoppedError:
            raise
        except KafkaError as error:
            log.warning("consumer_poll_failed", error=repr(error))
            await _wait(stop, self._retry_initial)
            return {}
        return records

    async def _fetch(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> Fetched | None:
        return fetched(await self._poll(consumer, stop))

    async def _process(
        self, consumer: AIOKafkaConsumer, current: Fetched, stop: asyncio.Event
    ) -> asyncio.Task[Fetched | None] | None:
        """Handle and commit `current`; returns the next batch's fetch, started while the handler waits on the database.

        The next batch is only ever handled after this one is durable. When this one is
        abandoned, the fetched next one is dropped and its partitions rewound to its first
        records, so a later commit can never pass records that were not persisted.
        """
        async with self._in_flight:
            self._abandon = asyncio.Event()
            if self._throttle.enabled:
                await self._throttle.admit(current.count, stop, self._abandon)
            if stop.is_set() or self._abandon.is_set():
                self._abandoned(current.count)
                return None
            work = asyncio.create_task(self._handle_until_done(current.batch))
            ahead = asyncio.create_task(self._fetch(consumer, stop))
            if not await self._finished(work, stop):
                self._abandoned(current.count)
                await give_back(consumer, ahead)
                return None
            self.last_result = work.result()
            await self._commit(consumer, current.offsets, current.count, stop)
            return ahead

    def _abandoned(self, count: int) -> None:
        self.batches_abandoned += 1
        log.info("batch_abandoned", records=count)

    async def _finished(self, work: asyncio.Task[Any], stop: asyncio.Event) -> bool:
        """Wait for `work`: cancel it at once on revocation, or once `stop` is set and `stop_grace` has passed."""
        abandon = asyncio.create_task(self._abandon.wait())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({work, abandon, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done() and not work.done() and not abandon.done():
                await asyncio.wait({work, abandon}, timeout=self._stop_grace, return_when=asyncio.FIRST_COMPLETED)
            return work.done()
        finally:
            for waiter in (work, abandon, stopping):
                if not waiter.done():
                    waiter.cancel()
            await asyncio.gather(work, abandon, stopping, return_exceptions=True)

    async def _handle_until_done(self, batch: ConsumedBatch) -> object:
        delay = self._retry_initial
        while True:
            try:
                return await self._handler(batch)
            except FcfsError as error:
                self.handler_failures += 1
                log.warning("batch_failed_will_retry", error=repr(error), retry_in=delay, records=len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _commit(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], count: int, stop: asyncio.Event
    ) -> None:
        """Commit, unless the group moved on (the next owner redoes the batch: no rows, by the unique key)."""
        commit = asyncio.create_task(consumer.commit(offsets))
        try:
            if not await self._finished(commit, stop):
                log.info("commit_abandoned", records=count)
                return
            commit.result()
        except (CommitFailedError, IllegalStateError, KafkaError) as error:
            self.commits_refused += 1
            log.warning("commit_refused", error=repr(error), records=count)
            return
        self.records_committed += count
        self.batches_committed += 1

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Hold the rebalance until the batch in flight committed or, after the grace period, was abandoned."""
        if not self._in_flight.locked():
            return
        log.info("revoke_waits_for_batch", partitions=len(partitions), grace=self._revoke_grace)
        timer = asyncio.get_running_loop().call_later(self._revoke_grace, self._abandon.set)
        try:
            async with self._in_flight:
                pass
        finally:
            timer.cancel()


class _FinishOrAbandon(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types: its base is Any
    def __init__(self, owner: KafkaBatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted((tp.topic, tp.partition) for tp in assigned))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
