"""The batch consumer loop against an in-memory stand-in for the broker client.

What is observable is what the group would see: the committed offsets. They move only
after the handler returned, never past a record not yet handled, and a batch abandoned
on stop or on revocation leaves them where they were.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from fcfs.adapters.kafka.consumer import KafkaBatchConsumer
from fcfs.adapters.kafka.liveness import Heartbeat, heartbeat_age
from fcfs.domain.events import DeadLetterReason
from tests.support.consumer_client import TP0, TP1, FakeClient, Handler, Record, consumer, event_record, log_of


@dataclass
class InFlight:
    """A running consumer whose handler has entered a batch (2 records per partition) and waits on `handler.gate`."""

    client: FakeClient
    handler: Handler
    loop: KafkaBatchConsumer
    stop: asyncio.Event
    task: asyncio.Task[None]


async def batch_in_flight(**options: Any) -> InFlight:
    client = FakeClient(log_of(2))
    handler = Handler(client)
    handler.gate = asyncio.Event()
    stop = asyncio.Event()
    loop = consumer(client, handler, batch_size=100, **options)
    task = asyncio.create_task(loop.run(stop))
    await handler.entered.wait()
    return InFlight(client, handler, loop, stop, task)


async def run_until(loop: KafkaBatchConsumer, stop: asyncio.Event, condition: Any, timeout: float = 5.0) -> None:
    task = asyncio.create_task(loop.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout)


async def test_offsets_are_committed_past_the_last_record_only_after_the_handler_returned() -> None:
    client = FakeClient(log_of(3))
    handler = Handler(client)
    loop = consumer(client, handler, batch_size=100)

    await run_until(loop, asyncio.Event(), lambda: client.committed)

    assert handler.committed_when_called == [{}]
    assert client.commits == [{TP0: 3, TP1: 3}]
    assert loop.records_committed == 6


async def test_every_record_is_handled_once_in_batches_of_at_most_the_batch_size() -> None:
    client = FakeClient(log_of(5))
    handler = Handler(client)

    await run_until(consumer(client, handler, batch_size=4), asyncio.Event(), lambda: len(client.commits) == 3)

    assert [len(batch) for batch in handler.batches] == [4, 4, 2]
    users = sorted(consumed.event.user_id for batch in handler.batches for consumed in batch.events)
    assert users == [*range(100, 105), *range(200, 205)]
    assert client.committed == {TP0: 5, TP1: 5}


async def test_a_record_that_is_no_event_reaches_the_handler_as_rejected_with_its_reason() -> None:
    client = FakeClient({TP0: [event_record(0, 1), Record(1, b"garbage", b"k"), Record(2, None)]})
    handler = Handler(client)

    await run_until(consumer(client, handler), asyncio.Event(), lambda: client.committed)

    [batch] = handler.batches
    assert len(batch.events) == 1
    assert [(r.raw_value, r.key, r.reason) for r in batch.rejected] == [
        (b"garbage", b"k", DeadLetterReason.UNDECODABLE),
        (b"", None, DeadLetterReason.UNDECODABLE),
    ]
    assert client.committed == {TP0: 3}


async def test_a_failing_handler_is_retried_on_the_same_records_and_nothing_is_committed_meanwhile() -> None:
    client = FakeClient(log_of(2))
    handler = Handler(client)
    handler.failures = 3
    loop = consumer(client, handler, batch_size=100)

    await run_until(loop, asyncio.Event(), lambda: client.committed)

    assert handler.committed_when_called == [{}, {}, {}, {}]
    assert loop.handler_failures == 3
    assert client.commits == [{TP0: 2, TP1: 2}]


async def test_on_stop_a_batch_that_finishes_within_the_grace_is_committed() -> None:
    flight = await batch_in_flight(stop_grace_seconds=5)

    flight.stop.set()
    flight.handler.gate.set()
    await asyncio.wait_for(flight.task, 5)

    assert flight.client.committed == {TP0: 2, TP1: 2}
    assert flight.client.stopped


async def test_on_stop_a_batch_that_outlasts_the_grace_is_abandoned_uncommitted() -> None:
    flight = await batch_in_flight(stop_grace_seconds=0.05)

    flight.stop.set()
    await asyncio.wait_for(flight.task, 5)

    assert flight.client.commits == []
    assert flight.handler.cancelled
    assert flight.loop.batches_abandoned == 1
    assert flight.client.stopped


async def test_a_revocation_waits_until_the_batch_in_flight_is_committed() -> None:
    flight = await batch_in_flight(revoke_grace_seconds=5)

    revocation = asyncio.create_task(flight.client.listener.on_partitions_revoked({TP0, TP1}))
    await asyncio.sleep(0.05)
    assert not revocation.done()
    flight.handler.gate.set()
    await asyncio.wait_for(revocation, 5)

    assert flight.client.committed == {TP0: 2, TP1: 2}
    flight.stop.set()
    await asyncio.wait_for(flight.task, 5)


async def test_a_revocation_abandons_a_batch_that_outlasts_the_grace_and_commits_nothing() -> None:
    flight = await batch_in_flight(revoke_grace_seconds=0.05)

    await asyncio.wait_for(flight.client.listener.on_partitions_revoked({TP0, TP1}), 5)

    assert flight.handler.cancelled
    assert flight.client.commits == []
    assert flight.loop.batches_abandoned >= 1
    flight.stop.set()
    await asyncio.wait_for(flight.task, 5)


async def test_a_revocation_between_batches_does_not_wait() -> None:
    client = FakeClient({TP0: []})
    stop = asyncio.Event()
    task = asyncio.create_task(consumer(client, Handler(client)).run(stop))
    while client.listener is None:
        await asyncio.sleep(0.005)

    await asyncio.wait_for(client.listener.on_partitions_revoked({TP0}), 0.5)

    stop.set()
    await asyncio.wait_for(task, 5)


async def test_the_throttle_holds_the_loop_to_the_configured_rate() -> None:
    client = FakeClient({TP0: [event_record(offset, offset + 1) for offset in range(30)]})
    handler = Handler(client)
    loop = consumer(client, handler, batch_size=10, max_rate=200.0)
    started = asyncio.get_running_loop().time()

    await run_until(loop, asyncio.Event(), lambda: client.committed.get(TP0) == 30)

    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed >= 0.09  # 30 records at 200/s: the 2nd and 3rd batches wait 50 ms each


async def test_the_heartbeat_file_is_fresh_while_polling_and_gone_after_a_clean_stop(tmp_path: Path) -> None:
    path = tmp_path / "consumer.alive"
    client = FakeClient({TP0: []})
    stop = asyncio.Event()
    loop = consumer(client, Handler(client), heartbeat=Heartbeat(path, interval=0.0))
    task = asyncio.create_task(loop.run(stop))
    while not path.exists():
        await asyncio.sleep(0.005)

    age = heartbeat_age(path)
    assert age is not None
    assert age < 1.0
    assert loop.heartbeat.seconds_since_beat() < 1.0
    stop.set()
    await asyncio.wait_for(task, 5)
    assert heartbeat_age(path) is None


@pytest.mark.parametrize("rate", [0.0, -1.0])
async def test_a_rate_of_zero_means_unthrottled(rate: float) -> None:
    client = FakeClient({TP0: [event_record(offset, offset + 1) for offset in range(40)]})
    loop = consumer(client, Handler(client), batch_size=10, max_rate=rate)
    started = asyncio.get_running_loop().time()

    await run_until(loop, asyncio.Event(), lambda: client.committed.get(TP0) == 40)

    assert asyncio.get_running_loop().time() - started < 0.5


async def test_a_commit_the_group_refuses_is_counted_and_the_loop_goes_on() -> None:
    from aiokafka.errors import CommitFailedError

    client = FakeClient({TP0: [event_record(offset, offset + 1) for offset in range(4)]})
    refusals = [CommitFailedError("rebalanced (test double)")]
    commit = client.commit

    async def refusing(offsets: dict[TopicPartition, int]) -> None:
        if refusals:
            raise refusals.pop()
        await commit(offsets)

    client.commit = refusing  # type: ignore[method-assign]
    loop = consumer(client, Handler(client), batch_size=2)

    await run_until(loop, asyncio.Event(), lambda: client.committed.get(TP0) == 4)

    assert loop.commits_refused == 1
    assert client.commits == [{TP0: 4}]
