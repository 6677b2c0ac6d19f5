"""The broker under faults: down at publish, restarted with its log lost, connections reset mid-produce,
and the consumer's liveness across a restart (cases 7, 8, 9 and 15).
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from fcfs import IssueCommand, NewCoupon, Settings, open_services
from fcfs.adapters.redis.keys import KeySpace
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.domain.errors import PublishFailed
from fcfs.domain.issuance import IssueStatus
from fcfs.entrypoints.consumer import consumer_alive
from fcfs.entrypoints.embedded import EmbeddedProcess
from fcfs.entrypoints.loadgen import burst, issue_requests
from tests.support.drivers import (
    api_server,
    claims_of,
    consumer_lag,
    consumer_process,
    eventually_true,
    issue_burst,
    merge,
    persisted_burst,
    reconcile_until_consistent,
    wait_drained,
    wait_lag_zero,
)
from tests.support.fault_proxy import FaultProxy, ProxiedBroker
from tests.support.http_server import create_coupon
from tests.support.oracle import Claims, assert_invariants, assert_invariants_of
from tests.support.pipeline import SettingsFactory, issued_pairs, read_topic


def broker_of(server: EmbeddedProcess) -> str:
    return f"127.0.0.1:{server.port}"


async def unconfirmed_count(settings: Settings, coupon_id: int) -> int:
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        return int(await client.hlen(KeySpace(settings.redis_prefix).coupon(coupon_id).unconfirmed))
    finally:
        await client.aclose()


async def test_case_07_broker_down_at_publish_answers_503_and_gives_back_exactly_what_it_took(
    tansu: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 7. 10 users are accepted and persisted; the broker is killed; 20 more users try.

    Expected: each of the 20 gets 503 S002 (the record never left the process: a certain failure)
    and the gate gives back exactly what it took: stock 50 − 10, users = the 10 accepted, no
    event recorded as unconfirmed; after the drain the 10 accepted users have one row each.
    """
    settings = lua_async(kafka_bootstrap_servers=broker_of(tansu))
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 50, "faults")
        accepted, claims = await persisted_burst(
            settings, server.base_url, coupon_id, range(1, 11), 10, tmp_path / "consumer.log"
        )
        await asyncio.to_thread(tansu.kill)
        refused = await burst(server.base_url, issue_requests(coupon_id, range(11, 31)), concurrency=20)

    assert accepted.by_code == {"202": 10}, accepted.by_code
    assert refused.by_code == {"S002": 20}, refused.by_code
    assert {answer.status for _, answer in refused.answers} == {503}
    assert await unconfirmed_count(settings, coupon_id) == 0
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert stored.gate_stock == 40 and stored.gate_users == frozenset(range(1, 11))


@pytest.mark.faults
async def test_a_frozen_broker_at_publish_keeps_the_admissions_it_cannot_settle_and_reconciles_them(
    tansu: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """The broker gets SIGSTOP (its connections stay open, nothing answers) while 10 users issue, then
    SIGCONT. Unlike case 7 the outcome of each send is unknown: the record may be written later.

    Expected: each of the 10 gets 202 (kept, never given back: giving back a record that is then
    written would issue the unit twice) and is recorded as unconfirmed; the gate holds all 10.
    After SIGCONT, the drain and reconciliation (which republishes what the broker never got and
    settles what it did), each has exactly one row, the ledger is empty, stock + users = 50.
    """
    settings = lua_async(kafka_bootstrap_servers=broker_of(tansu), producer_send_timeout=2.0)
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 50, "faults")
        warm = await burst(server.base_url, issue_requests(coupon_id, [1]), concurrency=1)
        tansu.process.send_signal(signal.SIGSTOP)
        try:
            frozen_requests = issue_requests(coupon_id, range(2, 12))
            frozen = await burst(server.base_url, frozen_requests, concurrency=10)
            recorded = await unconfirmed_count(settings, coupon_id)
        finally:
            tansu.process.send_signal(signal.SIGCONT)
        claims = merge(Claims(acked={1}), claims_of(frozen, frozen_requests))
        with consumer_process(settings, tmp_path / "consumer.log"):
            await wait_drained(settings, claims.acked - set(range(2, 12)))
            claims.reconciled, report = await reconcile_until_consistent(settings, coupon_id)

    assert warm.by_code == {"202": 1}, warm.by_code
    assert frozen.by_code == {"202": 10}, frozen.by_code
    assert recorded == 10, "every send of unknown outcome is recorded for reconciliation"
    assert report.consistent, report
    assert await unconfirmed_count(settings, coupon_id) == 0
    await assert_invariants_of(settings, coupon_id, claims)


@pytest.mark.faults
async def test_case_08_a_broker_restarted_with_its_log_lost_loses_no_accepted_user(
    tansu: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 8. 100 users are accepted and persisted; with the consumer stopped 50 more are accepted
    (their events only on the broker); the broker is killed and restarted empty (memory storage);
    then up to 400 more users try.

    Expected: the API's producer recovers without a restart (accepted answers resume); the 50
    events the broker lost are republished by reconciliation (the gate holds those users with
    no row and the lag is 0); after the drain every accepted user has exactly one row, no row
    is unaccounted for, and the gate conserves stock 300.
    """
    settings = lua_async(kafka_bootstrap_servers=broker_of(tansu))
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 300, "faults")
        persisted, claims = await persisted_burst(
            settings, server.base_url, coupon_id, range(1, 101), 50, tmp_path / "consumer.log"
        )
        in_flight, in_flight_claims = await issue_burst(server.base_url, coupon_id, range(101, 151), 50)
        claims = merge(claims, in_flight_claims)
        assert len(claims.acked) == 150, in_flight.by_code

        await asyncio.to_thread(tansu.kill)
        await asyncio.to_thread(tansu.restart)
        await ensure_topics(settings)
        recovered = await eventually_true(lambda: _accepts(server.base_url, coupon_id, 10_000), 60.0, interval=0.5)
        after, after_claims = await issue_burst(server.base_url, coupon_id, range(151, 251), 50)
        claims = merge(claims, after_claims, Claims(acked={10_000}))

        with consumer_process(settings, tmp_path / "consumer2.log"):
            await wait_drained(settings, claims.acked - set(range(101, 151)))
            claims.reconciled, report = await reconcile_until_consistent(settings, coupon_id)

    assert recovered, "the producer never published again after the broker restart"
    assert after.by_code["202"] == 100, after.by_code
    assert set(range(101, 151)) <= claims.reconciled, f"lost events not republished: {report}"
    assert report.consistent, report
    await assert_invariants_of(settings, coupon_id, claims)


@pytest.mark.faults
async def test_case_09_connections_reset_during_produce_leave_one_row_per_accepted_user(
    proxied_broker: ProxiedBroker, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 9. The broker's replies are dropped for 1 s and every connection is then reset while 30
    produce requests wait (so the client retries records the broker already wrote); then up to 400 more
    users are issued, 10 at a time, while every broker connection is reset every 50 ms (until 40 resets).

    Expected: every answer is ACCEPTED (possibly recorded as unconfirmed) or a 503-style
    `PublishFailed` with the admission given back; the topic may hold a record twice, yet after
    the drain and reconciliation every accepted user has exactly one row, no row belongs to a
    refused user, and stock + users = 500.
    """
    settings = lua_async(kafka_bootstrap_servers=proxied_broker.bootstrap, producer_send_timeout=5.0)
    proxy = proxied_broker.proxy
    acked: set[int] = set()
    async with open_services(settings) as fcfs:
        await ensure_topics(settings)
        coupon = await fcfs.create_coupon.execute(NewCoupon("faults", 500))
        await fcfs.load_stock.execute(coupon.id)

        async def issue(user: int) -> None:
            try:
                outcome = await fcfs.issue_coupon.execute(IssueCommand(coupon.id, user))
            except PublishFailed:
                return
            assert outcome.status is IssueStatus.ACCEPTED, outcome
            acked.add(user)

        await issue(1)  # metadata known, connections up
        proxy.drop_replies()
        first_wave = asyncio.gather(*(issue(user) for user in range(2, 32)))
        await asyncio.sleep(1.0)
        proxy.restore()
        proxy.reset()
        await first_wave

        proxy.latency = 0.01  # each request spends time on the wire, where the resets hit it
        stop_resets = threading.Event()
        resetter = threading.Thread(target=_reset_every, args=(proxy, 0.05, stop_resets))
        resetter.start()
        try:
            for start in range(32, 432, 10):
                await asyncio.gather(*(issue(user) for user in range(start, start + 10)))
                if proxy.counters["resets"] >= 40:
                    break
        finally:
            stop_resets.set()
            resetter.join()
            proxy.restore()

    records = await read_topic(settings.kafka_bootstrap_servers, settings.topic)
    written = Counter(json.loads(record.value)["userId"] for record in records)
    print(f"case 9: {len(acked)} accepted, {proxy.counters['resets']} resets, {sum(written.values())} records")
    assert proxy.counters["dropped_bytes"] > 0 and proxy.counters["resets"] >= 40
    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, acked & set(written))
        reconciled, report = await reconcile_until_consistent(settings, coupon.id)
    assert report.consistent, report
    await assert_invariants(
        settings.database_url,
        coupon.id,
        Claims(acked=acked, reconciled=reconciled),
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
    )


@pytest.mark.faults
async def test_case_15_a_stalled_consumer_fails_its_liveness_check_and_a_broker_restart_loses_no_accepted_user(
    tansu: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 15. A consumer process is frozen with SIGSTOP, then thawed; later, while it runs, the broker is
    killed and restarted empty (log and group offsets lost) between two bursts of accepted users.

    Expected: the frozen consumer fails the liveness check (`fcfs consume --check`: heartbeat
    older than the limit) within seconds and passes again after SIGCONT. Across the broker
    restart the running consumer does not sit stuck: its lag drains to 0 (it rejoins the group
    and reads the new log; where its old positions made it skip new records, it has committed
    past them, and reconciliation republishes those users, whom the gate holds without a row).
    In the end every accepted user has exactly one row and the gate conserves stock 300.
    """
    settings = lua_async(kafka_bootstrap_servers=broker_of(tansu))
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 300, "faults")
        with consumer_process(settings, tmp_path / "consumer.log") as consumer:
            before, claims = await issue_burst(server.base_url, coupon_id, range(1, 61), 30)
            assert await wait_drained(settings, claims.acked), consumer.tail()

            consumer.signal(signal.SIGSTOP)
            try:
                frozen_reported = await eventually_true(_dead(settings), 15.0, interval=0.5)
            finally:
                consumer.signal(signal.SIGCONT)
            thawed_reported = await eventually_true(_alive(settings), 15.0, interval=0.5)

            await asyncio.to_thread(tansu.kill)
            await asyncio.sleep(3.0)
            await asyncio.to_thread(tansu.restart)
            await ensure_topics(settings)
            assert await eventually_true(lambda: _accepts(server.base_url, coupon_id, 10_000), 60.0, interval=0.5)
            after, after_claims = await issue_burst(server.base_url, coupon_id, range(61, 121), 30)
            claims = merge(claims, after_claims, Claims(acked={10_000}))

            drained = await wait_lag_zero(settings, timeout=45.0)
            alive = consumer_alive(settings, max_age=5.0)
            caught_up = claims.acked <= {user for _, user in await issued_pairs(settings.database_url)}
            claims.reconciled, report = await reconcile_until_consistent(settings, coupon_id)

    print(f"case 15: caught up by itself: {caught_up}; reconciliation republished {sorted(claims.reconciled)}")
    assert frozen_reported, "a frozen consumer must fail the liveness check"
    assert thawed_reported, "a thawed consumer must pass the liveness check again"
    assert drained or not alive, f"consumer stuck (lag {await consumer_lag(settings)}) while its liveness check passes"
    assert report.consistent, report
    await assert_invariants_of(settings, coupon_id, claims)


def _dead(settings: Settings) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not consumer_alive(settings, max_age=3.0)

    return check


def _alive(settings: Settings) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return consumer_alive(settings, max_age=3.0)

    return check


async def _accepts(base_url: str, coupon_id: int, user: int) -> bool:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        answer = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": user})
    return answer.status_code == 202


def _reset_every(proxy: FaultProxy, seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        proxy.reset()
