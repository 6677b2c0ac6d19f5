"""The Kafka producer (acks=all), the `CouponIssued` publisher on it, and the broker's readiness check."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from fcfs.adapters.kafka.codec import encode_event, event_key
from fcfs.adapters.kafka.delivery import TopicWriter
from fcfs.adapters.kafka.errors import broker_unavailable
from fcfs.adapters.readiness import TimedCheck
from fcfs.domain.errors import PublishFailed
from fcfs.ports.publisher import IssueEventPublisher

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fcfs.domain.events import CouponIssued


@asynccontextmanager
async def open_producer(
    bootstrap_servers: str, *, linger_ms: int, request_timeout: float, client_id: str = "fcfs"
) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer, stopped (after flushing what it holds) on exit.

    acks=all: a record counts as written only once every in-sync replica has it. No
    idempotence (tansu does not support it), so a retried batch may land twice; the
    consumer's unique key makes that harmless. `request_timeout` bounds each attempt and
    the whole life of a batch in the producer. Raises `PublishFailed` when no broker answers.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        request_timeout_ms=max(int(request_timeout * 1000), 1),
    )
    try:
        await producer.start()
    except KafkaError as error:
        await producer.stop()
        raise PublishFailed(f"no broker answers at {bootstrap_servers}: {error!r}") from error
    try:
        yield producer
    finally:
        await producer.stop()


class KafkaIssuePublisher(TopicWriter, IssueEventPublisher):
    """Publishes to `topic` keyed `<couponId>:<userId>`; see `delivery` for what each error means."""

    async def publish(self, event: CouponIssued) -> None:
        await self._write(encode_event(event), event_key(event))


class KafkaHealthCheck(TimedCheck[AIOKafkaProducer]):
    """Ready when some broker answers a metadata request within `timeout`."""

    name = "broker"
    too_slow = PublishFailed

    async def _ask(self) -> None:
        try:
            await self._client.client.fetch_all_metadata()
        except KafkaError as error:
            raise broker_unavailable(error) from error
