"""Thousands of users race over real HTTP (granian, N workers) on real Redis + MariaDB.

The oracle is the database: exactly `stock` rows, one per user, and the set of users
answered "issued" equals the set of rows (nothing acked is missing, no row is unacked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fcfs import Settings, open_services
from fcfs.entrypoints.demo import GRANTED, granted_users, user_order
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server


@pytest.fixture
def two_worker_server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    process, base_url = start_server(settings, 2, tmp_path)
    try:
        yield base_url
    finally:
        stop(process)


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
    assert codes["C002"] + codes["C003"] == len(order) - len(granted)  # every other attempt refused
