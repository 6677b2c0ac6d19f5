"""Hardening over real HTTP (granian via `fcfs serve`) on real Redis + MariaDB: rate limits shared by two
server processes, the bulkhead shedding load without losing a coupon, and /metrics agreeing with the load tool."""

from __future__ import annotations

import dataclasses
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fcfs import Settings, open_services
from fcfs.entrypoints.demo import GRANTED, granted_users, user_order
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server
from tests.support.prometheus import scrape


@pytest.fixture
def servers(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    """`request.param`: (number of servers, workers each, settings changed from the test's `settings`)."""
    count, workers, changes = request.param
    started: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for index in range(count):
            log_dir = tmp_path / f"s{index}"
            log_dir.mkdir()
            process, url = start_server(dataclasses.replace(settings, **changes), workers, log_dir)
            started.append(process)
            urls.append(url)
        yield urls
    finally:
        for process in started:
            stop(process)


def post_issue(base_url: str, coupon_id: int, user: int, forwarded_for: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/coupons/{coupon_id}/issue",
        json={"userId": user},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    )
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return str(response.json()["code"])


LIMITS = {"rate_limit_per_ip": 5, "rate_limit_per_user": 3, "rate_limit_window_seconds": 60.0}


@pytest.mark.parametrize("servers", [(2, 1, LIMITS | {"trusted_proxies": "10.99.0.1"})], indirect=True)
def test_the_address_limit_holds_across_two_servers_and_rotating_forwarded_for_does_not_escape_it(
    servers: list[str],
) -> None:
    coupon_id = create_coupon(servers[0], 1000)
    codes = [post_issue(servers[i % 2], coupon_id, 100 + i, f"198.51.100.{i}") for i in range(16)]
    assert Counter(codes) == {"200": 5, "R001": 11}, codes


@pytest.mark.parametrize("servers", [(2, 1, LIMITS)], indirect=True)
def test_the_user_limit_holds_across_two_servers(servers: list[str]) -> None:
    coupon_id = create_coupon(servers[0], 1000)
    codes = [post_issue(servers[i % 2], coupon_id, 7, "203.0.113.1") for i in range(8)]
    assert codes == ["200", "C002", "C002", "R001", "R001", "R001", "R001", "R001"], codes


BUSY = {"bulkhead_limit": 2, "bulkhead_wait_seconds": 0.002}


@pytest.mark.parametrize("servers", [(1, 2, BUSY)], indirect=True)
async def test_a_saturated_bulkhead_answers_503_s002_and_loses_or_over_issues_nothing(
    servers: list[str], settings: Settings
) -> None:
    coupon_id = create_coupon(servers[0], 100)
    result = await burst(servers[0], issue_requests(coupon_id, user_order(1500, 300)), concurrency=300)

    codes = result.by_code
    assert not result.transport_errors, result.transport_errors
    assert set(codes) <= GRANTED | {"C002", "C003", "S002"}, codes
    assert codes["S002"] > 0, codes
    granted = granted_users(result)
    async with open_services(settings) as fcfs:
        audit = await fcfs.audit_coupon.execute(coupon_id)
    assert audit.rows <= 100 and audit.duplicate_rows == 0
    assert audit.row_users == granted, "every acked user has a row and every row was acked"
    assert audit.gate_users == granted and audit.gate_remaining == 100 - len(granted), "a shed request took nothing"


@pytest.mark.parametrize("servers", [(1, 2, BUSY)], indirect=True)
async def test_metrics_after_a_burst_on_two_workers_count_what_the_load_tool_saw(
    servers: list[str], settings: Settings, tmp_path: Path
) -> None:
    coupon_id = create_coupon(servers[0], 100)
    result = await burst(servers[0], issue_requests(coupon_id, user_order(1500, 300)), concurrency=300)
    assert not result.transport_errors, result.transport_errors

    metrics = scrape(servers[0])
    outcomes: Counter[str] = Counter()
    for labels, value in metrics["fcfs_issue_outcomes_total"].items():
        assert dict(labels)["strategy"] == settings.strategy
        outcomes[dict(labels)["code"]] += int(value)
    assert outcomes == result.by_code
    route = (("method", "POST"), ("route", "/api/v1/coupons/{coupon_id}/issue"))
    issue_responses = sum(v for k, v in metrics["fcfs_http_requests_total"].items() if k[:2] == route)
    assert issue_responses == len(result.answers)
    assert metrics["fcfs_bulkhead_rejected_total"][()] == result.by_code["S002"]
    assert metrics["fcfs_bulkhead_in_flight"][()] == 0
    assert metrics["fcfs_issue_latency_seconds_count"][(("strategy", settings.strategy),)] == len(result.answers)
    assert metrics["fcfs_gate_seconds_count"][()] >= result.by_code["200"]
    assert metrics["fcfs_insert_seconds_count"][()] >= result.by_code["200"]
    writers = {path.stem.rsplit("_", 1)[-1] for path in (tmp_path / "s0" / "metrics").glob("*/counter_*.db")}
    assert len(writers) == 2, f"both workers answered and were summed: {writers}"
