"""Thousands of users race over real HTTP (granian, N workers) on real Redis + MariaDB.

The oracle is the database: exactly `stock` rows, one per user, and the set of users
answered "issued" equals the set of rows (nothing acked is missing, no row is unacked).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fcfs import Settings, open_services
from fcfs.bootstrap.embedded import free_port
from fcfs.entrypoints.demo import GRANTED, granted_users, user_order
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop, wait_ready


def start_server(settings: Settings, workers: int, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCFS_")}
    env |= {
        "FCFS_DATABASE_URL": settings.database_url,
        "FCFS_REDIS_URL": settings.redis_url,
        "FCFS_REDIS_PREFIX": settings.redis_prefix,
        "FCFS_STRATEGY": settings.strategy,
        "FCFS_DATA_DIR": str(tmp_path),
    }
    if settings.kafka_bootstrap_servers:
        env |= {
            "FCFS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "FCFS_TOPIC": settings.topic,
            "FCFS_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
        }
    args = ["serve", "--port", str(port), "--workers", str(workers), "--no-embedded", "--no-consumer"]
    log = (tmp_path / "server.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fcfs.entrypoints.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
    except Exception:
        stop(process)
        raise RuntimeError((tmp_path / "server.log").read_text()[-3000:]) from None
    return process, base_url


@pytest.fixture
def two_worker_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    process, base_url = start_server(settings, 2, tmp_path)
    try:
        yield base_url
    finally:
        stop(process)


def create_coupon(base_url: str, stock: int) -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        coupon_id = int(
            client.post("/api/v1/coupons", json={"name": "race", "totalQuantity": stock}).json()["result"]["id"]
        )
        assert client.post(f"/api/v1/coupons/{coupon_id}/stock").status_code == 200
    return coupon_id


async def test_ten_thousand_users_over_two_workers_get_exactly_the_stock(
    two_worker_server: str, settings: Settings
) -> None:
    coupon_id = create_coupon(two_worker_server, 100)
    order = user_order(10_000, 1_000)
    result = await burst(two_worker_server, issue_requests(coupon_id, order), concurrency=500)

    codes = result.by_code
    assert not result.transport_errors, result.transport_errors
    assert set(codes) <= GRANTED | {"C002", "C003"}, codes
    granted = granted_users(result)
    async with open_services(settings) as fcfs:
        audit = await fcfs.audit_coupon.execute(coupon_id)
    assert audit.rows == 100, f"expected 100 rows, found {audit.rows}"
    assert audit.duplicate_rows == 0
    assert audit.row_users == granted, (
        f"acked without row: {sorted(granted - audit.row_users)[:10]}, "
        f"rows without ack: {sorted(audit.row_users - granted)[:10]}"
    )
    assert audit.issued_quantity == 100
    assert audit.gate_remaining == 0
    assert audit.gate_users == granted
    assert codes["C002"] >= 1  # repeats of users who already won were refused
