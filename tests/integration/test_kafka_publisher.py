"""The Kafka adapters on a real Kafka-protocol broker (tansu): publish, dead letters, topics, lag, health.

The publisher's one hard promise is docs/design.md §6.3: `PublishFailed` only when the record
was certainly not written (the caller gives the unit back), `PublishOutcomeUnknown` when
the broker did not answer (the caller must not).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from fcfs.adapters.kafka.batched_publisher import BatchingKafkaPublisher
from fcfs.adapters.kafka.dead_letter import KafkaDeadLetterPublisher
from fcfs.adapters.kafka.lag import KafkaConsumerLag
from fcfs.adapters.kafka.producer import KafkaHealthCheck, KafkaIssuePublisher, open_producer
from fcfs.adapters.kafka.topics import ensure_topics
from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.domain.events import DeadLetterReason, DeadLetterSource, IssueDeadLettered
from fcfs.entrypoints.embedded import EmbeddedProcess
from tests.support.pipeline import events_for, headers_of, read_topic

SEND_TIMEOUT = 2.0


@pytest.fixture(params=[KafkaIssuePublisher, BatchingKafkaPublisher], ids=["one-by-one", "batching"])
def publisher_class(request: pytest.FixtureRequest) -> type[KafkaIssuePublisher] | type[BatchingKafkaPublisher]:
    """Both publishers keep the same promise, so every publish test runs on both."""
    return request.param  # type: ignore[no-any-return]


@asynccontextmanager
async def connected_publisher(
    tansu: EmbeddedProcess, topic: str, publisher_class: type[KafkaIssuePublisher], *, partitions: int
) -> AsyncIterator[KafkaIssuePublisher]:
    """A publisher on the test's own broker, connected and its metadata cached by one publish."""
    bootstrap = f"127.0.0.1:{tansu.port}"
    await ensure_topics(bootstrap, {topic: partitions})
    async with open_producer(bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        publisher = publisher_class(producer, topic, SEND_TIMEOUT)
        await publisher.publish(events_for(1, [1])[0])
        yield publisher


async def test_a_published_event_is_on_the_topic_as_documented_json_keyed_by_coupon_and_user(
    kafka_bootstrap: str, topics: tuple[str, str], publisher_class: type[KafkaIssuePublisher]
) -> None:
    await ensure_topics(kafka_bootstrap, {topics[0]: 3})
    [event] = events_for(7, [42])
    async with open_producer(kafka_bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        await publisher_class(producer, topics[0], SEND_TIMEOUT).publish(event)

    [record] = await read_topic(kafka_bootstrap, topics[0])
    assert record.key == b"7:42"
    assert json.loads(record.value) == {
        "eventId": event.event_id,
        "couponId": 7,
        "userId": 42,
        "issuedAt": event.issued_at.isoformat().replace("+00:00", "Z"),
        "version": 1,
    }


async def test_topics_are_created_with_the_configured_partitions_and_creating_them_again_is_harmless(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    await ensure_topics(kafka_bootstrap, {topics[0]: 3, topics[1]: 2})
    await ensure_topics(kafka_bootstrap, {topics[0]: 3, topics[1]: 2})

    async with open_producer(kafka_bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        assert await producer.partitions_for(topics[0]) == {0, 1, 2}
        assert await producer.partitions_for(topics[1]) == {0, 1}


async def test_a_dead_letter_carries_the_original_value_and_key_and_the_three_headers(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    await ensure_topics(kafka_bootstrap, {topics[1]: 1})
    letter = IssueDeadLettered(b'{"couponId": "5"}', b"5:9", DeadLetterSource.CONSUMER, DeadLetterReason.INVALID, 3)
    async with open_producer(kafka_bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        await KafkaDeadLetterPublisher(producer, topics[1], SEND_TIMEOUT).dead_letter(letter)

    [record] = await read_topic(kafka_bootstrap, topics[1])
    assert (record.value, record.key) == (letter.raw_value, letter.key)
    assert headers_of(record) == {
        "fcfs-dlt-source": b"consumer",
        "fcfs-dlt-reason": b"invalid",
        "fcfs-dlt-attempts": b"3",
    }


async def test_with_the_broker_stopped_publish_fails_quickly_and_certainly(
    tansu: EmbeddedProcess, topics: tuple[str, str], publisher_class: type[KafkaIssuePublisher]
) -> None:
    async with connected_publisher(tansu, topics[0], publisher_class, partitions=3) as publisher:
        await asyncio.to_thread(tansu.kill)  # off the loop, which keeps serving the producer meanwhile

        started = time.monotonic()
        with pytest.raises(PublishFailed):
            await publisher.publish(events_for(1, [2])[0])
        assert time.monotonic() - started < SEND_TIMEOUT
        outcomes = await asyncio.gather(
            *(publisher.publish(event) for event in events_for(1, range(3, 303))), return_exceptions=True
        )
        assert all(isinstance(outcome, PublishFailed) for outcome in outcomes), outcomes[:3]


async def test_a_burst_published_together_lands_whole_each_event_on_its_keys_partition(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """3,000 concurrent publishes through the batching publisher: every one acknowledged is on the
    topic exactly once, on the partition the default partitioner gives its key (as `deliver` sends it)."""
    await ensure_topics(kafka_bootstrap, {topics[0]: 3})
    events = events_for(9, range(1, 3001))
    async with open_producer(kafka_bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        publisher = BatchingKafkaPublisher(producer, topics[0], 10.0)
        await asyncio.gather(*(publisher.publish(event) for event in events))

    records = await read_topic(kafka_bootstrap, topics[0])
    assert sorted(record.key for record in records) == sorted(f"9:{e.user_id}".encode() for e in events)
    partitioner = DefaultPartitioner()
    assert all(record.partition == partitioner(record.key, [0, 1, 2], [0, 1, 2]) for record in records)
    assert {record.partition for record in records} == {0, 1, 2}


async def test_a_dead_letter_publisher_with_the_broker_stopped_fails(
    tansu: EmbeddedProcess, topics: tuple[str, str]
) -> None:
    bootstrap = f"127.0.0.1:{tansu.port}"
    await ensure_topics(bootstrap, {topics[1]: 1})
    async with open_producer(bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        dead_letters = KafkaDeadLetterPublisher(producer, topics[1], SEND_TIMEOUT)
        await asyncio.to_thread(tansu.kill)
        letter = IssueDeadLettered(b"x", None, DeadLetterSource.CONSUMER, DeadLetterReason.UNDECODABLE)

        with pytest.raises(PublishFailed):
            await dead_letters.dead_letter(letter)


async def test_a_broker_that_stops_answering_after_the_hand_over_leaves_the_outcome_unknown(
    tansu: EmbeddedProcess, topics: tuple[str, str], publisher_class: type[KafkaIssuePublisher]
) -> None:
    async with connected_publisher(tansu, topics[0], publisher_class, partitions=1) as publisher:
        os.kill(tansu.process.pid, signal.SIGSTOP)  # connections stay open; nothing answers
        try:
            started = time.monotonic()
            with pytest.raises(PublishOutcomeUnknown):
                await publisher.publish(events_for(1, [2])[0])
            assert time.monotonic() - started < SEND_TIMEOUT + 1.0
        finally:
            os.kill(tansu.process.pid, signal.SIGCONT)


async def test_the_health_check_passes_while_the_broker_answers_and_fails_once_it_is_gone(
    tansu: EmbeddedProcess,
) -> None:
    async with open_producer(f"127.0.0.1:{tansu.port}", linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        check = KafkaHealthCheck(producer, timeout=1.0)
        await check.check()
        await asyncio.to_thread(tansu.kill)

        with pytest.raises(PublishFailed):
            await check.check()


async def test_no_producer_starts_without_a_broker(tmp_path: Path) -> None:
    with pytest.raises(PublishFailed):
        async with open_producer("127.0.0.1:1", linger_ms=2, request_timeout=1.0):
            pass


async def test_consumer_lag_counts_what_the_group_has_not_committed(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    await ensure_topics(kafka_bootstrap, {topics[0]: 3})
    lag = KafkaConsumerLag(kafka_bootstrap, topics[0], "fcfs-lag-test")
    assert await lag.total_lag() == 0

    async with open_producer(kafka_bootstrap, linger_ms=2, request_timeout=SEND_TIMEOUT) as producer:
        publisher = KafkaIssuePublisher(producer, topics[0], SEND_TIMEOUT)
        for event in events_for(1, range(1, 8)):
            await publisher.publish(event)

    assert await lag.total_lag() == 7


async def test_consumer_lag_of_a_topic_that_does_not_exist_is_zero(kafka_bootstrap: str) -> None:
    assert await KafkaConsumerLag(kafka_bootstrap, "no.such.topic.fcfs", "fcfs-lag-test").total_lag() == 0
