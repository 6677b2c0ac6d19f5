"""`fcfs reconcile` run from the command line repairs a Redis gate that lost its state (issue #14, acceptance 4).

"Redis restarted empty" is every key under the test's own prefix deleted, so the case runs in
`make test` on the shared Redis; the fault suite's SIGKILL variant (case 3) reconciles in process.
The command runs as an operator runs it: the installed `fcfs` script, configured by `FCFS_*`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from fcfs import IssueCommand, IssueStatus, NewCoupon, Settings, open_services
from fcfs.entrypoints.loadgen import burst, issue_requests
from tests.support.drivers import (
    MidBurst,
    api_server,
    claims_of,
    consumer_process,
    issue_burst,
    merge,
    wait_drained,
)
from tests.support.http_server import create_coupon, settings_env
from tests.support.oracle import assert_invariants_of

FCFS = str(Path(sys.executable).with_name("fcfs"))


@pytest.fixture
def settings(pipeline_settings_on_services: Settings) -> Settings:
    """lua-async on the real services, reconciling at once and caching no sold-out answer."""
    return dataclasses.replace(
        pipeline_settings_on_services, strategy="lua-async", reconcile_grace_seconds=0.0, sold_out_ttl_seconds=0.0
    )


def fcfs(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`fcfs ARGS` in a child whose only `FCFS_*` variables are `settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FCFS_")} | settings_env(settings)
    return subprocess.run([FCFS, *args], env=env, capture_output=True, text=True, timeout=180, check=False)


async def run_fcfs(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(fcfs, settings, *args)


async def lose_the_gate(client: aioredis.Redis, prefix: str) -> None:
    """What a Redis restarted without persistence leaves of this test's keys: nothing."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)


def coupons_in(answer: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    reports = json.loads(answer.stdout)
    assert isinstance(reports, list), answer.stdout
    return reports


async def test_reconcile_from_the_command_line_repairs_a_gate_emptied_mid_burst(
    settings: Settings, redis_prefix: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """Acceptance 4. Stock 300; after 120 answers of a 2,000-user burst the gate loses every key.

    Expected: later attempts answer C006 (not loaded) and nothing is over-admitted; once the
    consumer drained, `fcfs reconcile --coupon N --wait 60` exits 0 having rebuilt the gate from
    the rows; the invariants hold (conservation included), and a second burst issues exactly
    what is left: 300 rows in all, every 202 user one row.
    """
    async with api_server(settings, 1, tmp_path / "api") as server:
        coupon_id = await asyncio.to_thread(create_coupon, server.base_url, 300, "reconcile-cli")
        lose_after_120 = MidBurst(120, lambda: lose_the_gate(redis_client, redis_prefix))

        with consumer_process(settings, tmp_path / "consumer.log"):
            first_requests = issue_requests(coupon_id, range(1, 2_001))
            first = await burst(server.base_url, first_requests, concurrency=50, on_answer=lose_after_120)
            await lose_after_120.landed()
            claims = claims_of(first, first_requests)
            assert await wait_drained(settings, claims.acked)

            repaired = await run_fcfs(settings, "reconcile", "--coupon", str(coupon_id), "--wait", "60", "--json")

            second, second_claims = await issue_burst(server.base_url, coupon_id, range(2_001, 4_001), 50)
            claims = merge(claims, second_claims)
            assert await wait_drained(settings, claims.acked)

    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    (outcome,) = coupons_in(repaired)
    assert outcome["finished"] is True, outcome
    first_rows = len(claims_of(first, first_requests).acked)
    assert first.by_code.get("C006", 0) > 0, f"the lost gate must be seen by clients: {first.by_code}"
    assert set(first.by_code) <= {"202", "C006"}, first.by_code
    rebuilt = [round_["rebuilt_stock"] for round_ in outcome["rounds"] if round_["rebuilt_stock"] is not None]
    assert rebuilt == [300 - first_rows], outcome
    assert second.by_code.get("202", 0) == 300 - first_rows, second.by_code
    stored = await assert_invariants_of(settings, coupon_id, claims)
    assert len(stored.row_users) == 300, "after the repair the rest of the stock is issued, no more"


async def test_reconcile_all_waits_for_the_lag_and_exits_1_when_its_wait_runs_out(
    settings: Settings, redis_prefix: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """20 users accepted with no consumer running (lag 20), then the gate loses its keys.

    Expected: `fcfs reconcile --all --wait 2` finds the coupon (admitted through the gate),
    rebuilds nothing while the lag is not zero and exits 1 saying so; a dry run changes nothing
    either; once a consumer drained, `fcfs reconcile --all` rebuilds stock 100 − 20 and exits 0.
    """
    async with open_services(settings) as services:
        coupon = await services.create_coupon.execute(NewCoupon("reconcile-all", 100))
        await services.create_coupon.execute(NewCoupon("never-admitted", 5))
        await services.load_stock.execute(coupon.id)
        outcomes = [await services.issue_coupon.execute(IssueCommand(coupon.id, user)) for user in range(1, 21)]
    assert {outcome.status for outcome in outcomes} == {IssueStatus.ACCEPTED}
    await lose_the_gate(redis_client, redis_prefix)

    waited = await run_fcfs(settings, "reconcile", "--all", "--wait", "2", "--json")
    looked = await run_fcfs(settings, "reconcile", "--all", "--dry-run")

    assert waited.returncode == 1, waited.stdout + waited.stderr
    (outcome,) = coupons_in(waited)
    assert outcome["coupon_id"] == coupon.id and outcome["finished"] is False
    assert len(outcome["rounds"]) >= 2, "it kept trying within its wait"
    assert {round_["consumer_lag"] for round_ in outcome["rounds"]} == {20}
    assert all(round_["rebuilt_stock"] is None for round_ in outcome["rounds"])
    assert looked.returncode == 1, looked.stdout + looked.stderr
    assert "consumer lag 20" in looked.stdout and "not finished" in looked.stdout
    assert await redis_client.exists(f"{redis_prefix}:{{c:{coupon.id}}}:stock") == 0

    with consumer_process(settings, tmp_path / "consumer.log"):
        assert await wait_drained(settings, set(range(1, 21)))
        repaired = await run_fcfs(settings, "reconcile", "--all", "--wait", "30")

    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "rebuilt the gate from the rows: stock 80, 20 users" in repaired.stdout
    assert int(await redis_client.get(f"{redis_prefix}:{{c:{coupon.id}}}:stock")) == 80
