"""The Redis gate under faults: killed or frozen mid-burst, state lost, a reply lost after the script ran.

Cases 3–6 of the reliability suite. Each runs on a redis-server of the test's own (never the
shared one), lua-async over HTTP or through the library, a consumer process, and reconciliation.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from fcfs import IssueCommand, NewCoupon, open_services
from fcfs.domain.errors import GateError
from fcfs.domain.issuance import IssueStatus
from fcfs.entrypoints.embedded import EmbeddedProcess
from fcfs.entrypoints.loadgen import burst, issue_requests
from tests.support.drivers import (
    MidBurst,
    api_server,
    claims_of,
    consumer_process,
    issue_burst,
    merge,
    reconcile,
    reconcile_until_consistent,
    wait_drained,
)
from tests.support.fault_proxy import ProxyFactory
from tests.support.http_server import create_coupon
from tests.support.oracle import Claims, assert_invariants, assert_invariants_of
from tests.support.pipeline import SettingsFactory, read_topic


def redis_url(server: EmbeddedProcess) -> str:
    return f"redis://127.0.0.1:{server.port}/0"


async def flushall(server: EmbeddedProcess) -> None:
    """Lose every key of the test's own Redis (what a restart without persistence does)."""
    client = aioredis.Redis.from_url(redis_url(server))
    try:
        await client.flushall()
    finally:
        await client.aclose()


def break_redis(server: EmbeddedProcess, signum: int, outage: float) -> None:
    """SIGKILL then restart (state lost), or SIGSTOP then SIGCONT (state kept, commands queued meanwhile)."""
    if signum == signal.SIGKILL:
        server.kill()
        time.sleep(outage)
        server.restart()
    else:
        server.process.send_signal(signal.SIGSTOP)
        time.sleep(outage)
        server.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP], ids=["sigkill-restart", "sigstop-cont"])
async def test_case_03_redis_killed_or_frozen_mid_burst_then_reconciled_loses_and_over_issues_nothing(
    signum: int, own_redis: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 3. Redis gets SIGKILL (restarted empty after 1.5 s) or SIGSTOP (1.5 s) after 300 answers of a burst.

    Expected: attempts during the outage fail (S001, or C006 once Redis is back empty); no 202
    user is lost (its event was on the broker before the answer); reconciliation, run once the
    consumer lag is 0, rebuilds the gate from the rows (SIGKILL) or republishes users whose
    script ran after their client gave up (SIGSTOP); a second burst after recovery then issues
    exactly the rest: rows = stock 300, every 202 user one row, the gate conserves stock.
    """
    settings = lua_async(redis_url=redis_url(own_redis), redis_timeout=0.5)
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 300, "faults")
        break_after_300 = MidBurst(300, lambda: asyncio.to_thread(break_redis, own_redis, signum, 1.5))

        with consumer_process(settings, tmp_path / "consumer.log"):
            first_requests = issue_requests(coupon_id, range(1, 2_001))
            first = await burst(server.base_url, first_requests, concurrency=50, on_answer=break_after_300)
            await break_after_300.landed()
            claims = claims_of(first, first_requests)
            await wait_drained(settings, claims.acked)
            reconciled, report = await reconcile_until_consistent(settings, coupon_id)
            claims.reconciled = reconciled

            second, second_claims = await issue_burst(server.base_url, coupon_id, range(2_001, 4_001), 50)
            claims = merge(claims, second_claims)
            await wait_drained(settings, claims.acked)

    failed = {code: n for code, n in first.by_code.items() if code not in {"202", "C002", "C003"}}
    print(f"case 3: first {dict(first.by_code)}, second {dict(second.by_code)}, reconciled {len(reconciled)}")
    assert failed, f"the outage must be seen by clients: {first.by_code}"
    assert set(failed) <= {"S001", "C006"}, failed
    assert report.consistent, report
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) == 300, "after recovery the rest of the stock is issued, no more"


async def test_case_04_redis_state_lost_and_stock_reloaded_during_lag_the_database_cap_still_holds(
    own_redis: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 4. 50 users are accepted, Redis loses its state while the consumer is down, an operator
    reloads the stock (POST /stock: total − rows = 50, since no row exists yet) and 50 more are accepted.

    Expected: the database cap holds: exactly 50 rows, one per user, every row an accepted user;
    the 50 accepted users the cap refused are on the dead-letter topic as `over_cap` (visible
    and countable, never silently dropped and never over-issued). This is the double fault the
    gate cannot see; reconciliation (case 5) is the safe way back, since it waits for lag 0.
    """
    settings = lua_async(redis_url=redis_url(own_redis))
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 50, "faults")
        before = issue_requests(coupon_id, range(1, 201))
        first = await burst(server.base_url, before, concurrency=50)
        await flushall(own_redis)
        await asyncio.to_thread(_load_stock, server.base_url, coupon_id)
        after = issue_requests(coupon_id, range(201, 401))
        second = await burst(server.base_url, after, concurrency=50)
        claims = merge(claims_of(first, before), claims_of(second, after))
        assert first.by_code["202"] == second.by_code["202"] == 50, (first.by_code, second.by_code)

        with consumer_process(settings, tmp_path / "consumer.log"):
            await wait_drained(settings, set())  # lag 0: every event handled, every letter written
            letters = await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)

    refused = {json.loads(letter.value)["userId"] for letter in letters}
    claims.over_cap = refused
    stored = await assert_invariants(settings.database_url, coupon_id, claims, conservation=False)
    assert len(stored.row_users) == 50
    assert {dict(letter.headers)["fcfs-dlt-reason"] for letter in letters} == {b"over_cap"}
    assert len(refused) == 50 and refused <= claims.acked, sorted(refused)


@pytest.mark.faults
async def test_case_05_reconcile_during_consumer_lag_waits_for_lag_zero_before_rebuilding_the_gate(
    own_redis: EmbeddedProcess, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 5. 10 users are accepted and persisted; with the consumer down 20 more are accepted, then
    Redis loses its state.

    Expected: reconciliation while the lag is 20 changes nothing (no rebuild, no republish; it
    says it waits for the lag), so the gate stays unloaded (C006) rather than being rebuilt
    from the 10 rows to stock 90 (which would over-admit by 20); once the consumer drained,
    reconciliation rebuilds stock = 100 − 30 with the 30 rows' users; a second burst then
    issues exactly the remaining 70: rows = 100, every 202 user one row, conservation holds.
    """
    settings = lua_async(redis_url=redis_url(own_redis))
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 100, "faults")
        with consumer_process(settings, tmp_path / "consumer.log"):
            persisted, claims = await issue_burst(server.base_url, coupon_id, range(1, 11), 10)
            await wait_drained(settings, claims.acked)
        lagging, lagging_claims = await issue_burst(server.base_url, coupon_id, range(11, 31), 20)
        claims = merge(claims, lagging_claims)
        assert len(claims.acked) == 30, (persisted.by_code, lagging.by_code)
        await flushall(own_redis)

        waiting = await reconcile(settings, coupon_id)
        assert waiting.consumer_lag == 20, waiting
        assert waiting.rebuilt_stock is None and waiting.republished == (), waiting
        assert any("consumer lag is 20" in reason for reason in waiting.deferred), waiting.deferred
        refused = await burst(server.base_url, issue_requests(coupon_id, [999]), concurrency=1)
        assert refused.by_code == {"C006": 1}, "the gate must stay unloaded while events are in flight"

        with consumer_process(settings, tmp_path / "consumer.log"):
            await wait_drained(settings, claims.acked)
            rebuilt = await reconcile(settings, coupon_id)
            assert rebuilt.consumer_lag == 0 and rebuilt.rebuilt_stock == 70, rebuilt
            # the first 30 come back too
            second, second_claims = await issue_burst(server.base_url, coupon_id, range(1, 501), 50)
            claims = merge(claims, second_claims)
            await wait_drained(settings, claims.acked)

    assert second.by_code == {"202": 70, "C002": 30, "C003": 400}, second.by_code
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) == 100


async def test_case_06_a_redis_reply_lost_after_the_script_ran_is_counted_once_and_reconciled(
    own_redis: EmbeddedProcess, proxies: ProxyFactory, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 6. The gate's replies are dropped (the script runs, the answer never arrives) for 5 attempts.

    Expected: each attempt fails with GateError (500 S001 over HTTP) after the Redis timeout;
    retrying any of them answers C002 (the script ran once: stock 20 − 5, not − 10); no event
    was published, so the users are held without a row; reconciliation (lag 0) republishes
    exactly those 5, and after the drain each has one row; stock + users = 20 throughout.
    """
    proxy = proxies("127.0.0.1", own_redis.port)
    settings = lua_async(redis_url=f"redis://{proxy.address}/0", redis_timeout=0.5)
    async with open_services(settings) as fcfs:
        coupon = await fcfs.create_coupon.execute(_new_coupon(20))
        await fcfs.load_stock.execute(coupon.id)
        warm = await fcfs.issue_coupon.execute(IssueCommand(coupon.id, 1))  # scripts loaded, connection up
        assert warm.status is IssueStatus.ACCEPTED

        proxy.drop_replies()
        lost = await asyncio.gather(
            *(fcfs.issue_coupon.execute(IssueCommand(coupon.id, user)) for user in range(2, 7)), return_exceptions=True
        )
        proxy.restore()
        assert all(isinstance(outcome, GateError) for outcome in lost), lost
        assert proxy.counters["dropped_bytes"] > 0

        retried = [await fcfs.issue_coupon.execute(IssueCommand(coupon.id, user)) for user in range(2, 7)]
        assert {outcome.status for outcome in retried} == {IssueStatus.ALREADY_ISSUED}
        view = await fcfs.read_coupon.execute(coupon.id)
        assert view.remaining == 20 - 6, "each lost reply counted once"

    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, {1})
        reconciled, report = await reconcile_until_consistent(settings, coupon.id)
    assert reconciled == {2, 3, 4, 5, 6}, report
    await assert_invariants(
        settings.database_url,
        coupon.id,
        Claims(acked={1}, reconciled=reconciled),
        redis_url=redis_url(own_redis),
        redis_prefix=settings.redis_prefix,
    )


def _load_stock(base_url: str, coupon_id: int) -> None:
    import httpx

    assert httpx.post(f"{base_url}/api/v1/coupons/{coupon_id}/stock", timeout=10).status_code == 200


def _new_coupon(total: int) -> NewCoupon:
    return NewCoupon("faults", total)
