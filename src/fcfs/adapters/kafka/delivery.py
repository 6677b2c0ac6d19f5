"""One record to the broker with acks=all, and an honest answer on whether it was written.

A caller compensates only on `PublishFailed`, so that answer must be *certain*: a record
that reaches the log after we said "failed" is an issuance nobody was told about. aiokafka
retries a batch until its `request_timeout_ms` runs out and reports only the *last*
attempt's error, so after any earlier attempt that may have reached the broker (a
connection dropped mid-request, a broker-side `RequestTimedOut`, `NotEnoughReplicasAfterAppend`)
no error from the delivery future proves the record absent. Hence two phases:

1. **Hand-over** (bounded by the send timeout): wait for the partition's leader in the
   metadata, check that a connection to it is up, and put the record into the producer's
   buffer. Anything that fails here, a timeout included, leaves the record in this process
   only (aiokafka documents that cancelling `send()` itself stops the record): `PublishFailed`.
   This is where a stopped broker shows up: its connection is refused at once.
2. **Delivery** (the rest of the timeout): the record is in the buffer and may go out at
   any moment. A timeout is `PublishOutcomeUnknown`; so is every error except the few
   that are a deterministic verdict on the record's bytes or the request (too large,
   corrupt, invalid topic or timestamp, unsupported format, bad acks): a broker that
   refuses them once refuses them on every attempt, so none was written.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from fcfs.adapters.kafka.errors import REFUSED_ON_EVERY_ATTEMPT, broker_unavailable
from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiokafka import AIOKafkaProducer

LEADER_POLL_SECONDS = 0.05
_partitioner = DefaultPartitioner()


async def deliver(
    producer: AIOKafkaProducer,
    topic: str,
    value: bytes,
    key: bytes | None,
    timeout: float,
    headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Return once the broker acknowledged the record; else `PublishFailed` or `PublishOutcomeUnknown`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            partition = await _reachable_partition(producer, topic, key)
            delivery = await producer.send(topic, value, key=key, partition=partition, headers=list(headers))
    except TimeoutError:
        raise PublishFailed(f"record not handed to a broker within {timeout}s") from None
    except KafkaError as error:
        raise broker_unavailable(error) from error
    try:
        await asyncio.wait_for(asyncio.shield(delivery), max(deadline - loop.time(), 0.0))
    except TimeoutError:
        delivery.add_done_callback(retrieve_late_failure)
        raise PublishOutcomeUnknown(f"broker did not acknowledge within {timeout}s") from None
    except REFUSED_ON_EVERY_ATTEMPT as error:
        raise PublishFailed(f"broker refused the record: {error!r}") from error
    except KafkaError as error:
        raise PublishOutcomeUnknown(f"delivery failed after the hand-over: {error!r}") from error


async def _reachable_partition(producer: AIOKafkaProducer, topic: str, key: bytes | None) -> int:
    """The partition the default partitioner picks for `key`, once its leader is known and connected."""
    partitions = sorted(await producer.partitions_for(topic))
    partition = partition_of(key, partitions)
    await reachable_leader(producer, topic, partition)
    return partition


async def reachable_leader(producer: AIOKafkaProducer, topic: str, partition: int) -> None:
    """Wait for `partition`'s leader in the metadata; `PublishFailed` when no connection to it comes up."""
    client = producer.client
    while True:
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        if leader is not None and leader >= 0:
            break
        await client.force_metadata_update()
        await asyncio.sleep(LEADER_POLL_SECONDS)
    if not await client.ready(leader):
        raise PublishFailed(f"no connection to broker {leader}, the leader of {topic}[{partition}]")


class TopicWriter:
    """One topic on one producer, every record delivered by `deliver` within `send_timeout`.

    The base of the publishers that write one record at a time (issued events, dead letters):
    what a send answers is decided in one place.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str, send_timeout: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = send_timeout

    async def _write(self, value: bytes, key: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> None:
        await deliver(self._producer, self._topic, value, key, self._timeout, headers)


def partition_of(key: bytes | None, partitions: list[int]) -> int:
    """Kafka's default choice (murmur2 of the key), so every publisher puts a key where Java clients would."""
    return int(_partitioner(key, partitions, partitions))


def retrieve_late_failure(delivery: asyncio.Future[object]) -> None:
    """A late failure is nobody's to handle any more; read it so asyncio does not warn."""
    if not delivery.cancelled():
        delivery.exception()
