"""The consumer process under faults: duplicates, kills around the two commits, rebalances (cases 10–14).

Events are published as the API publishes them (one per accepted user), so the oracle's
"acked" users are the published ones; the gate is not involved here (no conservation check).
MariaDB row locks held by the test put the consumer exactly where a kill must land.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from fcfs import Settings
from tests.support.drivers import (
    ConsumerProcess,
    consumer_lag,
    consumer_process,
    eventually_true,
    wait_drained,
)
from tests.support.fault_proxy import ProxiedBroker
from tests.support.mariadb import Mariadb, mariadb
from tests.support.oracle import Claims, assert_invariants
from tests.support.pipeline import SettingsFactory, create_coupon, events_for, issued_pairs, publish_all, read_topic


async def rows(settings: Settings) -> int:
    return len(await issued_pairs(settings.database_url))


def rows_reach(settings: Settings, floor: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return await rows(settings) >= floor

    return reached


async def test_case_10_a_duplicated_event_adds_no_row(lua_async: SettingsFactory, tmp_path: Path) -> None:
    """Case 10. Every event of 60 users is published twice (same event id) and once more with a new id.

    Expected: 60 rows, one per user, `issued_quantity` 60, nothing dead-lettered, lag 0.
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 100)
    events = events_for(coupon_id, range(1, 61))
    await publish_all(settings, events + events + events_for(coupon_id, range(1, 61)))

    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, set(range(1, 61)))

    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(range(1, 61))), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []


@asynccontextmanager
async def coupon_row_locked(db: Mariadb, coupon_id: int) -> AsyncIterator[None]:
    """Hold `SELECT ... FOR UPDATE` on the coupon row: a consumer's batch waits at its first statement."""
    async with db.session() as conn:
        await conn.execute(text("BEGIN"))
        await conn.execute(text("SELECT id FROM coupon WHERE id = :id FOR UPDATE"), {"id": coupon_id})
        try:
            yield
        finally:
            await conn.execute(text("ROLLBACK"))


async def consumer_waiting(db: Mariadb, statement_like: str, consumer: ConsumerProcess) -> None:
    async def waiting() -> bool:
        assert consumer.running(), consumer.tail()
        return bool(await db.connections(statement_like))

    assert await eventually_true(waiting, 60.0), f"the consumer never reached {statement_like!r}:\n{consumer.tail()}"


async def restart_and_assert_whole(settings: Settings, coupon_id: int, users: int, tmp_path: Path) -> None:
    """A fresh consumer drains what is left: users 1 … `users` each have one row, the group's lag
    ends at zero and nothing went to the dead-letter topic."""
    acked = set(range(1, users + 1))
    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, acked, timeout=120.0)
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=acked), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []


@pytest.mark.faults
async def test_case_11_a_consumer_killed_after_the_database_commit_and_before_the_offset_commit_adds_no_second_row(
    proxied_broker: ProxiedBroker, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 11. The consumer's batch commits to MariaDB, then its offset commit is held (broker traffic
    blackholed) and it gets SIGKILL; a new consumer process of the same group starts.

    Expected: at the kill some rows exist and the group committed nothing (lag = all 200 events);
    the new consumer reads the batch again and adds no row for it: exactly 200 rows, one per
    user, `issued_quantity` 200, no dead letter, lag 0.
    """
    settings = lua_async(kafka_bootstrap_servers=proxied_broker.bootstrap)
    coupon_id = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, range(1, 201)))
    async with mariadb(settings.database_url) as db:
        consumer = ConsumerProcess(settings, tmp_path / "consumer.log").start()
        try:
            async with coupon_row_locked(db, coupon_id):
                await consumer_waiting(db, "%FOR UPDATE%", consumer)
                proxied_broker.proxy.blackhole()
            assert await eventually_true(rows_reach(settings, 1), 30.0), consumer.tail()
            await asyncio.sleep(1.0)  # the offset commit is stuck in the blackhole
            consumer.kill()
            at_kill = await rows(settings)
        finally:
            proxied_broker.proxy.restore()
            consumer.stop()
    assert at_kill > 0, "the batch must have reached the database before the kill"
    assert await consumer_lag(settings) == 200, "the killed consumer must not have committed an offset"

    await restart_and_assert_whole(settings, coupon_id, 200, tmp_path)


@pytest.mark.faults
async def test_case_12_a_consumer_killed_mid_batch_inside_its_transaction_loses_nothing(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 12. The consumer is SIGKILLed mid-batch: inside its batch transaction, holding the coupon row
    lock, its INSERT waits on a gap lock the test holds on `issued_coupon` (REPEATABLE READ,
    `SELECT ... FOR UPDATE` of a missing row), so the kill lands before its database commit.

    Expected: MariaDB rolls the dead connection's transaction back (no row, counter 0); once the
    test's lock is gone, a new consumer process persists everything: exactly 300 rows, one per
    user, `issued_quantity` 300, lag 0.
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, range(1, 301)))
    async with mariadb(settings.database_url) as db, db.session("REPEATABLE READ") as blocker:
        await blocker.execute(text("BEGIN"))
        await blocker.execute(
            text("SELECT id FROM issued_coupon WHERE coupon_id = :c AND user_id = 77 FOR UPDATE"), {"c": coupon_id}
        )
        consumer = ConsumerProcess(settings, tmp_path / "consumer.log").start()
        try:
            await consumer_waiting(db, "INSERT INTO issued_coupon%", consumer)
            consumer.kill()
        finally:
            consumer.stop()
            await blocker.execute(text("ROLLBACK"))
    assert await rows(settings) == 0, "the killed batch's transaction must leave no row"

    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, set(range(1, 301)), timeout=120.0)
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(range(1, 301))), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


@pytest.mark.faults
async def test_case_13_offsets_committed_inside_a_multi_record_batch_then_a_restart_consume_everything(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 13. 600 events go out in large producer batches; the consumer takes 37 records at a time
    (so its offset commits land inside the producer's record batches) and is SIGKILLed mid-drain.

    Expected: while it is down, the lag the broker reports (what `fcfs reconcile` waits on) is at
    least the number of events still without a row; the restarted consumer resumes inside the
    record batch, skipping nothing: exactly 600 rows, one per user, no dead letter, lag 0.
    """
    settings = lua_async(consumer_batch=37, consumer_max_rate=400.0)
    coupon_id = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, range(1, 601)), concurrency=600)

    consumer = ConsumerProcess(settings, tmp_path / "consumer.log").start()
    try:
        assert await eventually_true(rows_reach(settings, 150), 60.0), consumer.tail()
        consumer.kill()
    finally:
        consumer.stop()
    without_row = 600 - await rows(settings)
    lag = await consumer_lag(settings)
    assert without_row > 0, "the kill must land mid-drain"
    assert lag is not None and lag >= without_row, f"lag reads {lag} while {without_row} events have no row"

    await restart_and_assert_whole(settings, coupon_id, 600, tmp_path)


@pytest.mark.faults
async def test_case_14_a_second_consumer_joining_mid_drain_loses_and_doubles_nothing(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 14. A consumer process drains 2,000 events slowly; a second process of the same group
    starts once 300 rows exist, so the group rebalances with a batch in flight.

    Expected: both processes end up consuming (each logs an assignment), and after the drain
    exactly 2,000 rows, one per user, `issued_quantity` 2,000, no dead letter, lag 0.
    """
    settings = lua_async(consumer_batch=100, consumer_max_rate=500.0)
    coupon_id = await create_coupon(settings.database_url, 5_000)
    await publish_all(settings, events_for(coupon_id, range(1, 2_001)))

    with consumer_process(settings, tmp_path / "first.log") as first:
        assert await eventually_true(rows_reach(settings, 300), 60.0), first.tail()
        with consumer_process(settings, tmp_path / "second.log") as second:
            await wait_drained(settings, set(range(1, 2_001)), timeout=120.0)
            assert first.running() and second.running()
    assert "partitions_assigned" in second.tail(100_000), "the second consumer must have joined the group"
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(range(1, 2_001))), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
