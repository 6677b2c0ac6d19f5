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

Two batches are handed over at a time. The next batch is fetched and decoded while the
handler works on the current one, then handed over before the current one's offsets are
committed: its checkout, locking read and statement building run while the database
still writes the current one (for a hot coupon its locking read simply queues behind the
current one's row lock), so the database goes from one batch's commit straight to the
next one's insert instead of waiting out the consumer's own round trips. Offsets are
still committed one batch at a time, in fetch order, each only after its handler
returned: the newer batch's commit waits for the older one's. When the older batch is
abandoned, so is the newer one; both are rewound, with any batch fetched behind them
(`give_back`, `rewind`), so a later commit can never pass records that were not persisted.
A revocation waits until no handed-over batch is left uncommitted; meanwhile the loop
settles what the handler holds before handing over more.

Batches are fetched in slices of `FETCH_SLICE` records, yielding to the loop between
them: parsing and decoding 2,000 records in one go holds the loop for ~12 ms, and every
database round trip of the batch in the handler waited that long.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError, KafkaError

from fcfs.adapters.kafka.fetched_batch import Fetched, Records, fetched, give_back, joined, rewind
from fcfs.adapters.kafka.liveness import Heartbeat
from fcfs.adapters.kafka.throttle import RecordThrottle
from fcfs.domain.errors import FcfsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiokafka.structs import TopicPartition

    from fcfs.ports.consumer import BatchHandler, ConsumedBatch

log = structlog.get_logger("fcfs.consumer")

FETCH_SLICE = 100  # records parsed and decoded between two yields to the loop


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
        self._idle = asyncio.Event()  # set while the handler holds no batch whose offsets are uncommitted
        self._idle.set()
        self._revoking = False
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
        handed: Handed | None = None  # the batch the handler holds whose offsets are not committed yet
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                ahead = ahead or asyncio.create_task(self._fetch(consumer, stop))
                if handed is not None:
                    await _first_of(ahead, handed.work, stop)
                    if handed.work.done() or self._revoking or stop.is_set():
                        settled = await self._settle(consumer, handed, stop)
                        handed = self._handed(None)
                        if not settled:
                            await give_back(consumer, ahead)
                            ahead = None
                        continue
                current = await ahead
                ahead = None
                if current is not None:
                    handed = self._handed(await self._pipelined(consumer, handed, current, stop))
            if handed is not None:
                await self._settle(consumer, handed, stop)
                handed = self._handed(None)
        except ConsumerStoppedError:
            log.info("consumer_stopped_underneath")
        finally:
            for task in (ahead, handed.work if handed else None):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            self._idle.set()
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

    async def _poll(self, consumer: AIOKafkaConsumer, stop: asyncio.Event, timeout_ms: int, most: int) -> Records:
        try:
            records: Records = await consumer.getmany(timeout_ms=timeout_ms, max_records=most)
        except ConsumerStoppedError:
            raise
        except KafkaError as error:
            log.warning("consumer_poll_failed", error=repr(error))
            await _wait(stop, self._retry_initial)
            return {}
        return records

    async def _fetch(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> Fetched | None:
        """Up to `batch_size` records: waits up to the poll timeout for the first slice, then takes what is buffered."""
        batch = fetched(await self._poll(consumer, stop, self._poll_ms, min(FETCH_SLICE, self._batch_size)))
        while batch is not None and batch.count < self._batch_size:
            await asyncio.sleep(0)
            more = fetched(await self._poll(consumer, stop, 0, min(FETCH_SLICE, self._batch_size - batch.count)))
            if more is None:
                break
            batch = joined(batch, more)
        return batch

    async def _pipelined(
        self, consumer: AIOKafkaConsumer, older: Handed | None, current: Fetched, stop: asyncio.Event
    ) -> Handed | None:
        """Hand `current` over, then settle `older`: the database takes `current`'s round trips while `older` commits.

        Returns what the handler now holds. Nothing is committed out of order: `current`'s
        offsets wait for `older`'s. When `older` is abandoned, so is `current`, and both are
        rewound, so no later commit can pass their records.
        """
        if older is None:
            self._abandon = asyncio.Event()
        if self._throttle.enabled:
            await self._throttle.admit(current.count, stop, self._abandon)
        if stop.is_set() or self._abandon.is_set():
            if older is not None and not await self._settle(consumer, older, stop):
                rewind(consumer, older.fetched, current)
            else:
                rewind(consumer, current)
            self._abandoned(current.count)
            return None
        handed = Handed(current, asyncio.create_task(self._handle_until_done(current.batch)))
        if older is not None and not await self._settle(consumer, older, stop):
            handed.work.cancel()
            await asyncio.gather(handed.work, return_exceptions=True)
            rewind(consumer, older.fetched, current)
            self._abandoned(current.count)
            return None
        return handed

    async def _settle(self, consumer: AIOKafkaConsumer, handed: Handed, stop: asyncio.Event) -> bool:
        """Wait for the handler, then commit; False when the batch was abandoned (nothing committed)."""
        if not await self._finished(handed.work, stop):
            self._abandoned(handed.fetched.count)
            return False
        self.last_result = handed.work.result()
        await self._commit(consumer, handed.fetched.offsets, handed.fetched.count, stop)
        return True

    def _handed(self, handed: Handed | None) -> Handed | None:
        """What the handler holds now; a revocation waits while it holds anything (`_idle` clear)."""
        if handed is None:
            self._idle.set()
        else:
            self._idle.clear()
        return handed

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
        """Hold the rebalance until every batch handed over committed or, after the grace period, was abandoned.

        Meanwhile the loop hands over nothing new before what it holds is settled.
        """
        if self._idle.is_set():
            return
        log.info("revoke_waits_for_batch", partitions=len(partitions), grace=self._revoke_grace)
        self._revoking = True
        timer = asyncio.get_running_loop().call_later(self._revoke_grace, self._abandon.set)
        try:
            await self._idle.wait()
        finally:
            timer.cancel()
            self._revoking = False


class _FinishOrAbandon(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no types: its base is Any
    def __init__(self, owner: KafkaBatchConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions_assigned", partitions=sorted((tp.topic, tp.partition) for tp in assigned))


@dataclass(frozen=True, slots=True)
class Handed:
    """A batch the handler works on, and its work."""

    fetched: Fetched
    work: asyncio.Task[object]


async def _first_of(ahead: asyncio.Task[Fetched | None], work: asyncio.Task[object], stop: asyncio.Event) -> None:
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({ahead, work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
