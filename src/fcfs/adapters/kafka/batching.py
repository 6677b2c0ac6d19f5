"""A publisher that hands the events of one event-loop turn to the producer together.

Why: the issue hot path's profile showed `deliver()` per event (a timeout scope, a
metadata wait, a partition lookup, `producer.send()` with its own future, a shielded
wait) costing more than the Redis gate; under a burst hundreds of events are published in
the same loop turn. Here they queue, and the next loop turn hands them all to the producer
(which appends them to its open batch per partition) after one metadata and leader check
per partition, and waits for the acknowledgements with one deadline for the lot.

The verdicts are the ones `delivery.py` explains, per event: anything that fails before
its batch is in the producer's buffer (no leader, no connection, the hand-over timeout)
is `PublishFailed`; after the hand-over, a timeout or a retriable error is
`PublishOutcomeUnknown`, and only the errors that a broker repeats on every attempt are
`PublishFailed`. Each event lands on the partition `deliver()` would choose for its key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from fcfs.adapters.kafka.codec import encode_event, event_key
from fcfs.adapters.kafka.delivery import REFUSED_ON_EVERY_ATTEMPT, reachable_leader
from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.ports.publisher import IssueEventPublisher

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

    from fcfs.domain.events import CouponIssued

_partitioner = DefaultPartitioner()


@dataclass(slots=True)
class _Outgoing:
    key: bytes
    value: bytes
    future: asyncio.Future[None]


@dataclass(slots=True)
class _PartitionLoad:
    records: list[_Outgoing] = field(default_factory=list)
    handed_over: list[tuple[_Outgoing, asyncio.Future[object]]] = field(default_factory=list)


class BatchingKafkaPublisher(IssueEventPublisher):
    def __init__(self, producer: AIOKafkaProducer, topic: str, send_timeout: float, max_batch: int = 1024) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = send_timeout
        self._max_batch = max_batch
        self._pending: list[_Outgoing] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def publish(self, event: CouponIssued) -> None:
        loop = asyncio.get_running_loop()
        outgoing = _Outgoing(event_key(event), encode_event(event), loop.create_future())
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(outgoing)
        if len(self._pending) >= self._max_batch:
            self._flush()
        await outgoing.future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Outgoing]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        loads: dict[int, _PartitionLoad] = {}
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    partitions = sorted(await self._producer.partitions_for(self._topic))
                    for outgoing in batch:
                        partition = int(_partitioner(outgoing.key, partitions, partitions))
                        loads.setdefault(partition, _PartitionLoad()).records.append(outgoing)
                    for partition, load in loads.items():
                        await self._hand_over(partition, load)
            except TimeoutError:
                _fail_unsent(loads, batch, PublishFailed(f"records not handed to a broker within {self._timeout}s"))
            except (KafkaError, PublishFailed) as error:
                failure = error if isinstance(error, PublishFailed) else PublishFailed(f"broker unavailable: {error!r}")
                _fail_unsent(loads, batch, failure)
            sent = [pair for load in loads.values() for pair in load.handed_over]
            if sent:
                await asyncio.wait([delivery for _, delivery in sent], timeout=max(deadline - loop.time(), 0.0))
            for record, delivery in sent:
                _settle(record, delivery, self._timeout)
        except BaseException as error:  # never leave a caller waiting: unsent failed, sent unknown
            _fail_unsent(loads, batch, PublishFailed(f"publishing stopped: {error!r}"))
            unknown = PublishOutcomeUnknown(f"publishing stopped after the hand-over: {error!r}")
            _resolve([record for load in loads.values() for record, _ in load.handed_over], unknown)
            raise

    async def _hand_over(self, partition: int, load: _PartitionLoad) -> None:
        """Put `load`'s records into the producer's buffer (appended to its open batch for the partition)."""
        await reachable_leader(self._producer, self._topic, partition)
        for record in load.records:
            delivery = await self._producer.send(self._topic, record.value, key=record.key, partition=partition)
            load.handed_over.append((record, delivery))


def _fail_unsent(loads: dict[int, _PartitionLoad], batch: list[_Outgoing], error: PublishFailed) -> None:
    sent = {id(record) for load in loads.values() for record, _ in load.handed_over}
    _resolve([record for record in batch if id(record) not in sent], error)


def _settle(record: _Outgoing, delivery: asyncio.Future[object], timeout: float) -> None:
    if not delivery.done():
        delivery.add_done_callback(_retrieve)
        _resolve([record], PublishOutcomeUnknown(f"broker did not acknowledge within {timeout}s"))
        return
    error = None if delivery.cancelled() else delivery.exception()
    if error is None and not delivery.cancelled():
        _resolve([record], None)
    elif isinstance(error, REFUSED_ON_EVERY_ATTEMPT):
        _resolve([record], PublishFailed(f"broker refused the record: {error!r}"))
    else:
        _resolve([record], PublishOutcomeUnknown(f"delivery failed after the hand-over: {error!r}"))


def _resolve(records: list[_Outgoing], error: PublishFailed | PublishOutcomeUnknown | None) -> None:
    """Each caller gets its own exception object, so tracebacks do not pile up on a shared one."""
    for record in records:
        if record.future.done():
            continue
        if error is None:
            record.future.set_result(None)
        else:
            record.future.set_exception(type(error)(error.detail))


def _retrieve(delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled():
        delivery.exception()
