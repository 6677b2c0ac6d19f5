"""A race over real HTTP: one `fcfs serve` for a strategy, a burst of users, and the audit once drained."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs import Settings, open_services
from fcfs.entrypoints.consumer import run_consumer
from fcfs.entrypoints.demo import granted_users, user_order
from fcfs.entrypoints.loadgen import BurstResult, burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server

if TYPE_CHECKING:
    from pathlib import Path

    from fcfs.domain.use_cases import CouponAudit

STOCK = 100
USERS, REPEATS = 2_700, 300


async def race(
    settings: Settings,
    workers: int,
    tmp_path: Path,
    concurrency: int = 300,
    *,
    stock: int = STOCK,
    users: int = USERS,
    repeats: int = REPEATS,
) -> tuple[BurstResult, CouponAudit, set[int]]:
    """One server for `settings.strategy`; returns the burst result and the drained audit."""
    process, base_url = start_server(settings, workers, tmp_path)
    stop_consumer = asyncio.Event()
    consumer = None
    if settings.strategy == "lua-async":
        consumer = asyncio.create_task(run_consumer(settings, stop=stop_consumer))
    try:
        coupon_id = create_coupon(base_url, stock, settings.strategy)
        order = user_order(users, repeats)
        result: BurstResult = await burst(base_url, issue_requests(coupon_id, order), concurrency=concurrency)
        granted = granted_users(result)
        async with open_services(settings) as fcfs:
            for _ in range(300):
                audit = await fcfs.audit_coupon.execute(coupon_id)
                if granted <= audit.row_users:
                    audit = await fcfs.audit_coupon.execute(coupon_id)  # counts read after the last commit
                    break
                await asyncio.sleep(0.1)
        return result, audit, granted
    finally:
        stop(process)
        if consumer is not None:
            stop_consumer.set()
            await asyncio.wait_for(consumer, 30)
