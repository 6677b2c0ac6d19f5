"""Bursts over real HTTP (`fcfs serve`, granian workers) on lua-async, with a consumer process draining.

Cases 1, 2 and 28 of the reliability suite: the oracle compares the users answered 202
with the rows after the drain, and the Redis gate with the total.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from fcfs.entrypoints.demo import user_order
from fcfs.entrypoints.loadgen import burst, issue_requests
from tests.support.drivers import (
    api_server,
    claims_of,
    consumer_process,
    issue_burst,
    merge,
    reconcile_until_consistent,
    wait_drained,
)
from tests.support.http_server import create_coupon
from tests.support.oracle import assert_invariants_of
from tests.support.pipeline import SettingsFactory, read_topic


async def test_case_01_ten_thousand_requests_against_stock_100_issue_exactly_100(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 1. 10,000 requests (9,000 users, 1,000 of them twice) race for 100 coupons over 2 workers.

    Expected: exactly 100 answers 202, every other answer C002/C003, no transport error; after the
    drain exactly 100 rows, one per user, the rows' users are the 202 users, the gate holds 0 + 100.
    """
    settings = lua_async()
    async with api_server(settings, 2, tmp_path / "api") as server:
        coupon_id = await _coupon(server.base_url, 100)
        with consumer_process(settings, tmp_path / "consumer.log"):
            requests = issue_requests(coupon_id, user_order(9_000, 1_000))
            result = await burst(server.base_url, requests, concurrency=500)
            claims = claims_of(result, requests)
            await wait_drained(settings, claims.acked)

    assert not result.transport_errors, result.transport_errors
    assert set(result.by_code) <= {"202", "C002", "C003"}, result.by_code
    assert len(claims.acked) == result.by_code["202"] == 100
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) == 100
    assert stored.gate_stock == 0


async def test_case_02_one_user_sending_fifty_requests_at_once_gets_one_coupon(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 2. One user fires 50 requests in parallel (50 connections) at a coupon with stock 100.

    Expected: exactly one 202, 49 × C002 (already issued); one row; the gate holds 99 + {the user}.
    """
    settings = lua_async()
    async with api_server(settings, 2, tmp_path / "api") as server:
        coupon_id = await _coupon(server.base_url, 100)
        with consumer_process(settings, tmp_path / "consumer.log"):
            requests = issue_requests(coupon_id, [4242] * 50)
            result = await burst(server.base_url, requests, concurrency=50)
            claims = claims_of(result, requests)
            await wait_drained(settings, claims.acked)

    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert result.by_code == {"202": 1, "C002": 49}, result.by_code
    assert stored.row_users == (4242,)
    assert stored.gate_stock == 99


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP], ids=["sigkill", "sigstop"])
async def test_case_28_an_api_worker_killed_or_frozen_mid_burst_loses_and_invents_nothing(
    signum: int, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 28. The busier of two granian workers gets SIGKILL (or SIGSTOP) after 600 answers of a 4,000-user burst.

    Expected: clients see errors (granian's master stops serving once a worker dies; a frozen
    worker's requests time out), and after the drain plus reconciliation (which republishes
    users the dead worker admitted but never published): every 202 user has exactly one row,
    no row belongs to a user who was not answered 202 unless that user's request got no
    answer or was republished by reconciliation, rows ≤ stock, and the gate conserves stock.
    """
    settings = lua_async()
    async with api_server(settings, 2, tmp_path / "api") as server:
        coupon_id = await _coupon(server.base_url, 1_000)
        answered, victims = 0, []

        def hit_after_600(count: int) -> None:
            nonlocal answered
            answered += count
            if answered == 600:
                victims.append(server.busiest_worker())
                victims[0].send_signal(signum)

        with consumer_process(settings, tmp_path / "consumer.log"):
            requests = issue_requests(coupon_id, range(1, 4_001))
            result = await burst(server.base_url, requests, concurrency=200, on_answer=hit_after_600, timeout=5.0)
            if signum == signal.SIGSTOP:
                victims[0].send_signal(signal.SIGCONT)
            claims = claims_of(result, requests)
            await wait_drained(settings, claims.acked)
            claims.reconciled, report = await reconcile_until_consistent(settings, coupon_id)

    print(
        f"case 28 {signum}: {dict(result.by_code)} transport={dict(result.transport_errors)} unknown={len(claims.unknown)} reconciled={sorted(claims.reconciled)}"
    )
    assert answered >= 600, "the fault must land mid-burst"
    assert result.transport_errors, f"clients must see the failure: {result.by_code}"
    assert report.consistent, report
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) <= 1_000


async def _coupon(base_url: str, stock: int) -> int:
    return await asyncio.to_thread(create_coupon, base_url, stock, "faults")


async def test_a_stock_reload_mid_sale_keeps_the_users_whose_events_are_in_flight(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Regression (found by the state machine): POST .../stock while accepted events are still on their
    way to the database. 5 users are accepted with the consumer down; the stock is reloaded with
    its default quantity; the same 5 users and 15 new ones then try.

    Expected: the reload counts the 5 in-flight users as taken (stock 5, not 10) and keeps them
    admitted: they hear C002, exactly 5 new users are accepted, and after the drain there are
    10 rows, every accepted user has one, nothing is dead-lettered, the gate holds 0 + 10.
    """
    settings = lua_async()
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await _coupon(server.base_url, 10)
        first_requests = issue_requests(coupon_id, range(1, 6))
        first = await burst(server.base_url, first_requests, concurrency=5)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            reloaded = (await client.post(f"/api/v1/coupons/{coupon_id}/stock")).json()["result"]
        second, second_claims = await issue_burst(server.base_url, coupon_id, range(1, 21), 20)
        claims = merge(claims_of(first, first_requests), second_claims)
        with consumer_process(settings, tmp_path / "consumer.log"):
            await wait_drained(settings, claims.acked)

    assert first.by_code == {"202": 5}, first.by_code
    assert reloaded["stock"] == 5, reloaded
    assert second.by_code == {"C002": 5, "202": 5, "C003": 10}, second.by_code
    assert await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic) == []
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) == 10 and stored.gate_stock == 0
