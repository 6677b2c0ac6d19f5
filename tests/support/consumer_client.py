"""An in-memory stand-in for aiokafka's consumer client, and a handler that records what the consumer loop hands it.

The unit tests of the consumer loop observe what the group would see (the committed offsets)
without a broker.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import TopicPartition

from fcfs.adapters.kafka.codec import encode_event
from fcfs.adapters.kafka.consumer import KafkaBatchConsumer
from fcfs.domain.errors import PublishFailed
from fcfs.domain.events import CouponIssued
from fcfs.ports.consumer import ConsumedBatch

TOPIC = "coupon.issued"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass
class Record:
    offset: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class FakeClient:
    """Serves the log from the committed offsets on, like a fresh group member; records every commit."""

    log: dict[TopicPartition, list[Record]]
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    listener: Any = None
    stopped: bool = False

    def __post_init__(self) -> None:
        self.position = {tp: 0 for tp in self.log}

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        self.position = {tp: self.committed.get(tp, 0) for tp in self.log}

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        out: dict[TopicPartition, list[Record]] = {}
        left = max_records
        for tp, records in self.log.items():
            taken = records[self.position[tp] : self.position[tp] + left]
            if taken:
                out[tp] = taken
                self.position[tp] += len(taken)
                left -= len(taken)
        if not out:
            await asyncio.sleep(timeout_ms / 1000)
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await asyncio.sleep(0.01)  # a round trip to the group coordinator
        self.commits.append(dict(offsets))
        self.committed.update(offsets)

    async def stop(self) -> None:
        self.stopped = True


def event_record(offset: int, user: int) -> Record:
    event = CouponIssued(str(uuid.uuid4()), 1, user, datetime(2026, 1, 1, tzinfo=UTC))
    return Record(offset, encode_event(event), event.key.encode())


def log_of(per_partition: int) -> dict[TopicPartition, list[Record]]:
    return {
        TP0: [event_record(offset, 100 + offset) for offset in range(per_partition)],
        TP1: [event_record(offset, 200 + offset) for offset in range(per_partition)],
    }


class Handler:
    """Records what it was given; can be made to fail, or to block until released."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.batches: list[ConsumedBatch] = []
        self.committed_when_called: list[dict[TopicPartition, int]] = []
        self.failures = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.cancelled = False

    async def __call__(self, batch: ConsumedBatch) -> int:
        self.committed_when_called.append(dict(self.client.committed))
        self.entered.set()
        if self.failures > 0:
            self.failures -= 1
            raise PublishFailed("dead-letter topic unavailable (test double)")
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        self.batches.append(batch)
        return len(batch)


def consumer(client: FakeClient, handler: Handler, **kwargs: Any) -> KafkaBatchConsumer:
    options: dict[str, Any] = {"batch_size": 4, "poll_timeout": 0.01, "retry_initial_seconds": 0.01}
    options.update(kwargs)
    return KafkaBatchConsumer(
        bootstrap_servers="unused:9092",
        topic=TOPIC,
        group_id="g",
        handler=handler,
        client_factory=lambda: client,  # type: ignore[arg-type,return-value]
        **options,
    )
