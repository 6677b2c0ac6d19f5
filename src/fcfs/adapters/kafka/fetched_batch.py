"""A polled batch as the consumer loop holds it: decoded, with the offsets committing it stores.

The loop fetches the next batch while the handler works on the current one; a fetched
batch that must be dropped is given back by rewinding its partitions, so no later commit
can pass records that were never handled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.adapters.kafka.codec import Undecodable, decode_events
from fcfs.domain.events import CouponIssued
from fcfs.ports.consumer import ConsumedBatch, ConsumedEvent, RejectedRecord

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import ConsumerRecord, TopicPartition

Records = dict["TopicPartition", list["ConsumerRecord[bytes, bytes]"]]


@dataclass(frozen=True, slots=True)
class Fetched:
    """A polled batch, decoded, with the offsets that committing it stores and where it began."""

    batch: ConsumedBatch
    count: int
    offsets: dict[TopicPartition, int]  # per partition, the offset after its last record
    firsts: dict[TopicPartition, int]  # per partition, its first record's offset


def joined(head: Fetched, tail: Fetched) -> Fetched:
    """Two batches polled one after the other, as one: `tail`'s offsets follow `head`'s on every partition."""
    batch = ConsumedBatch(head.batch.events + tail.batch.events, head.batch.rejected + tail.batch.rejected)
    return Fetched(batch, head.count + tail.count, head.offsets | tail.offsets, tail.firsts | head.firsts)


def fetched(records: Records) -> Fetched | None:
    parts = {tp: messages for tp, messages in records.items() if messages}
    if not parts:
        return None
    return Fetched(
        decode_records(parts),
        sum(len(messages) for messages in parts.values()),
        {tp: messages[-1].offset + 1 for tp, messages in parts.items()},
        {tp: messages[0].offset for tp, messages in parts.items()},
    )


def decode_records(records: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]) -> ConsumedBatch:
    messages = [message for batch in records.values() for message in batch]
    values = [message.value for message in messages]
    decoded = decode_events(values)
    events = tuple(
        [
            ConsumedEvent(event, value or b"", message.key)
            for message, value, event in zip(messages, values, decoded, strict=True)
            if type(event) is CouponIssued
        ]
    )
    if len(events) == len(messages):  # the common case: nothing was refused
        return ConsumedBatch(events, ())
    rejected = tuple(
        RejectedRecord(value or b"", message.key, refusal.reason, refusal.detail)
        for message, value, refusal in zip(messages, values, decoded, strict=True)
        if isinstance(refusal, Undecodable)
    )
    return ConsumedBatch(events, rejected)


async def give_back(consumer: AIOKafkaConsumer, ahead: asyncio.Task[Fetched | None]) -> None:
    """Drop a batch fetched ahead: its partitions still ours are rewound to its first records."""
    ahead.cancel()
    await asyncio.gather(ahead, return_exceptions=True)
    if ahead.cancelled() or ahead.exception() is not None or (dropped := ahead.result()) is None:
        return
    rewind(consumer, dropped)


def rewind(consumer: AIOKafkaConsumer, *batches: Fetched) -> None:
    """Partitions still ours go back to the first record any of `batches` holds of them."""
    firsts: dict[TopicPartition, int] = {}
    for batch in batches:
        firsts.update({tp: min(first, firsts.get(tp, first)) for tp, first in batch.firsts.items()})
    owned = consumer.assignment()
    for tp, first in firsts.items():
        if tp in owned:
            consumer.seek(tp, first)
