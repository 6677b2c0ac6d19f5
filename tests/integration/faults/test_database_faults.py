"""MariaDB under faults while the consumer persists batches (cases 16 and 17, and `KILL` mid-batch).

A transient database failure is retried with backoff and never dead-lettered; the batch is
then persisted exactly once. Faults come from a TCP proxy in front of MariaDB, from locks the
test holds (a deadlock, a lock wait timeout), and from `KILL <id>` of the consumer's own
connection, found by this test database's name in the process list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from fcfs.entrypoints.consumer import consumer_alive
from tests.support.drivers import (
    ConsumerProcess,
    consumer_lag,
    consumer_process,
    eventually_true,
    wait_drained,
)
from tests.support.fault_proxy import ProxyFactory, database_address, proxied_database_url
from tests.support.mariadb import Mariadb, mariadb
from tests.support.oracle import Claims, assert_invariants
from tests.support.pipeline import SettingsFactory, create_coupon, events_for, issued_pairs, publish_all, read_topic

USERS = set(range(1, 201))


def retries_in(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{") and "batch_storage_failed" in line]


async def consumer_waiting(db: Mariadb, statement_like: str, consumer: ConsumerProcess) -> list[int]:
    """The ids of the consumer's connections running a statement like `statement_like` (waiting on a lock)."""

    async def waiting() -> bool:
        assert consumer.running(), consumer.tail()
        return bool(await db.connections(statement_like))

    assert await eventually_true(waiting, 60.0), f"the consumer never reached {statement_like!r}:\n{consumer.tail()}"
    return [found[0] for found in await db.connections(statement_like)]


@pytest.mark.faults
async def test_case_16_a_database_down_for_30_seconds_is_waited_out_with_backoff_then_caught_up(
    proxies: ProxyFactory, lua_async: SettingsFactory, database_url: str, tmp_path: Path
) -> None:
    """Case 16. The consumer reaches MariaDB through a proxy that resets every connection for 30 s
    while 200 events wait on the topic.

    Expected: no row and no commit during the outage, no dead letter at all, the consumer keeps
    retrying with growing delays (capped at `consumer_retry_max_seconds`) and its liveness check
    passes (it is waiting, not stuck); once MariaDB is reachable it catches up: 200 rows, one
    per user, `issued_quantity` 200, lag 0.
    """
    proxy = proxies(*database_address(database_url))
    settings = lua_async(database_url=proxied_database_url(database_url, proxy), consumer_retry_max_seconds=4.0)
    coupon_id = await create_coupon(database_url, 1_000)
    proxy.cut()
    await publish_all(settings, events_for(coupon_id, sorted(USERS)))
    with consumer_process(settings, tmp_path / "consumer.log") as consumer:
        await asyncio.sleep(30.0)
        rows_during, lag_during = len(await issued_pairs(database_url)), await consumer_lag(settings)
        alive_during = consumer_alive(settings, max_age=10.0)
        log = consumer.tail(1_000_000)  # the retries of the outage, before any after it
        proxy.restore()
        await wait_drained(dataclasses.replace(settings, database_url=database_url), USERS)

    delays = [float(retry["retry_in"]) for retry in retries_in(log)]  # type: ignore[arg-type]
    assert rows_during == 0 and lag_during == 200, (rows_during, lag_during)
    assert alive_during, "a consumer waiting for the database is alive"
    assert proxy.counters["refused"] > 0, "the outage must have been hit"
    assert 5 <= len(delays) <= 40, f"backoff, not a busy loop: {len(delays)} retries in 30 s"
    assert delays == sorted(delays) and delays[-1] == 4.0, delays
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
    await assert_invariants(database_url, coupon_id, Claims(acked=USERS), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


async def test_case_17_a_deadlock_in_a_batch_is_retried_and_persists_the_same_rows(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 17 (deadlock). The test's transaction (500 rows written: the heavier one) holds a gap lock the
    consumer's INSERT waits on, then asks for the coupon row the consumer holds: InnoDB breaks the
    cycle by rolling back the consumer's batch.

    Expected: the consumer logs the deadlock as a storage failure and retries (never a dead
    letter); once the test rolls back, the batch persists: 200 rows, one per user, counter 200.
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 1_000)
    other_coupon = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, sorted(USERS)))
    async with mariadb(settings.database_url) as db, db.session("REPEATABLE READ") as blocker:
        await blocker.execute(text("BEGIN"))
        await blocker.execute(
            text("INSERT INTO issued_coupon (coupon_id, user_id, issued_at) VALUES (:c, :u, NOW(6))"),
            [{"c": other_coupon, "u": user} for user in range(1, 501)],
        )
        await blocker.execute(
            text("SELECT id FROM issued_coupon WHERE coupon_id = :c AND user_id = 77 FOR UPDATE"), {"c": coupon_id}
        )
        with consumer_process(settings, tmp_path / "consumer.log") as consumer:
            await consumer_waiting(db, "INSERT INTO issued_coupon%", consumer)
            await blocker.execute(text("SELECT id FROM coupon WHERE id = :c FOR UPDATE"), {"c": coupon_id})
            await blocker.execute(text("ROLLBACK"))
            await wait_drained(settings, USERS)
            log = consumer.tail(1_000_000)

    failures = [str(retry["error"]) for retry in retries_in(log)]
    assert failures, f"the consumer must have been the deadlock's victim:\n{log[-3000:]}"
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=USERS), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"
    assert len(await issued_pairs(settings.database_url)) == 200, "the test's own rows were rolled back"


@pytest.mark.faults
async def test_case_17_a_lock_wait_timeout_in_a_batch_is_retried_and_persists_the_same_rows(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 17 (lock wait timeout). The test holds the coupon row (`FOR UPDATE`) for longer than the
    consumer's `innodb_lock_wait_timeout` (30 s), so the batch's first statement times out.

    Expected: error 1205 is a storage failure: retried, never dead-lettered; after the test lets
    go, 200 rows, one per user, counter 200, lag 0.
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, sorted(USERS)))
    async with mariadb(settings.database_url) as db, db.session() as blocker:
        await blocker.execute(text("BEGIN"))
        await blocker.execute(text("SELECT id FROM coupon WHERE id = :c FOR UPDATE"), {"c": coupon_id})
        with consumer_process(settings, tmp_path / "consumer.log") as consumer:
            await consumer_waiting(db, "%FOR UPDATE%", consumer)
            timed_out = await eventually_true(lambda: _logged(consumer, "batch_storage_failed"), 45.0, interval=0.5)
            await blocker.execute(text("ROLLBACK"))
            await wait_drained(settings, USERS)

    assert timed_out, consumer.tail()
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=USERS), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


async def test_the_consumers_connection_killed_mid_batch_is_retried_and_persists_the_same_rows(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """`KILL <id>` of the consumer's connection while its batch waits inside its transaction (at the
    INSERT, behind a gap lock the test holds), twice.

    Expected: each kill is a storage failure: the transaction is gone, the batch is retried on a
    new connection, nothing is dead-lettered; once the test lets go, 200 rows, one per user.
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 1_000)
    await publish_all(settings, events_for(coupon_id, sorted(USERS)))
    killed: list[int] = []
    async with mariadb(settings.database_url) as db, db.session("REPEATABLE READ") as blocker:
        await blocker.execute(text("BEGIN"))
        await blocker.execute(
            text("SELECT id FROM issued_coupon WHERE coupon_id = :c AND user_id = 77 FOR UPDATE"), {"c": coupon_id}
        )
        with consumer_process(settings, tmp_path / "consumer.log") as consumer:
            for _ in range(2):
                victim = (await consumer_waiting(db, "INSERT INTO issued_coupon%", consumer))[0]
                await db.kill(victim)
                killed.append(victim)
                assert await eventually_true(lambda: _not_waiting_on(db, victim), 10.0)
            assert len(await issued_pairs(settings.database_url)) == 0
            await blocker.execute(text("ROLLBACK"))
            await wait_drained(settings, USERS)
            log = consumer.tail(1_000_000)

    assert len(retries_in(log)) >= 2, log[-3000:]
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=USERS), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


async def _not_waiting_on(db: Mariadb, connection_id: int) -> bool:
    return connection_id not in {found[0] for found in await db.connections("INSERT INTO issued_coupon%")}


async def _logged(consumer: ConsumerProcess, event: str) -> bool:
    return re.search(event, consumer.tail(1_000_000)) is not None
