"""`fcfs demo`: a coupon, a burst of users racing for it over HTTP, and a summary read back from storage.

Every figure about what was issued comes from the database (and Redis), never from the
answers' counters; the answers are only compared against it (acked users == rows).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import msgspec

from fcfs.bootstrap.container import open_services
from fcfs.bootstrap.plugins import scale_out, unavailable_reason
from fcfs.bootstrap.preflight import configured_capabilities
from fcfs.entrypoints.console_watch import watched_race
from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.loadgen import BurstResult, burst, issue_requests, run
from fcfs.entrypoints.runtime import spawn_consumer, spawn_server, stop, wait_ready

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from fcfs.bootstrap.settings import Settings
    from fcfs.domain.use_cases import CouponAudit
    from fcfs.ports.strategy import StrategyFactory

GRANTED = {"200", "202"}
REFUSED = {"C002", "C003"}


@dataclass(frozen=True, slots=True)
class Scenario:
    strategy: str
    workers: int
    users: int
    repeats: int
    stock: int
    concurrency: int
    console: bool = False  # `--console`: the live console opened on the race (console_watch.py)


def skip_reason(settings: Settings, factories: dict[str, StrategyFactory], name: str) -> str | None:
    """Why `name` cannot run on these backends (or is unknown); None when it can."""
    factory = factories.get(name)
    if factory is None:
        return f"unknown strategy (known: {', '.join(sorted(factories))})"
    refused = scale_out(settings)
    if refused and not factory.cross_process_safe:
        return f"process-local, refused {refused}"
    return unavailable_reason(factory, configured_capabilities(settings))


def admin_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}


def create_loaded_coupon(base_url: str, settings: Settings, stock: int, name: str) -> int:
    headers = admin_headers(settings)
    with httpx.Client(base_url=base_url, timeout=30.0, headers=headers) as client:
        created = client.post("/api/v1/coupons", json={"name": name, "totalQuantity": stock})
        created.raise_for_status()
        coupon_id = int(created.json()["result"]["id"])
        client.post(f"/api/v1/coupons/{coupon_id}/stock", json={}).raise_for_status()
    return coupon_id


def user_order(users: int, repeats: int, seed: int = 7) -> list[int]:
    """Distinct users 1..N, then `repeats` of them again (users who already tried)."""
    rng = random.Random(seed)  # noqa: S311  (not security)
    distinct = list(range(1, users + 1))
    rng.shuffle(distinct)
    return distinct + [rng.randint(1, users) for _ in range(repeats)]


async def audit_after_drain(
    settings: Settings, coupon_id: int, granted: set[int], timeout: float
) -> tuple[CouponAudit, float]:
    """Wait until every granted user has a row (or time runs out); return the audit and the drain time."""
    started = time.perf_counter()
    async with open_services(settings) as services:
        while True:
            audit = await services.audit_coupon.execute(coupon_id)
            if granted <= audit.row_users or time.perf_counter() - started > timeout:
                drained = time.perf_counter() - started
                # The audit's reads are separate queries: counts read before the consumer's last commit
                # can disagree with the user list read after it. Once drained, read everything again.
                return await services.audit_coupon.execute(coupon_id), drained
            await asyncio.sleep(0.1)


def granted_users(result: BurstResult) -> set[int]:
    return {
        int(msgspec.json.decode(request.body)["userId"]) for request, answer in result.answers if answer.code in GRANTED
    }


def summarize(scenario: Scenario, result: BurstResult, audit: CouponAudit, drain: float) -> dict[str, object]:
    granted = granted_users(result)
    codes = result.by_code
    errors = sum(n for code, n in codes.items() if code not in GRANTED | REFUSED) + sum(
        result.transport_errors.values()
    )
    return {
        "strategy": scenario.strategy,
        "workers": scenario.workers,
        "stock": scenario.stock,
        "requests": scenario.users + scenario.repeats,
        "issued": audit.rows,
        "overIssued": audit.over_issued,
        "duplicates": audit.duplicate_rows,
        "grantedAnswers": len(granted),
        "ackedWithoutRow": len(granted - audit.row_users),
        "rowsWithoutAck": len(audit.row_users - granted),
        "soldOut": codes.get("C003", 0),
        "alreadyIssued": codes.get("C002", 0),
        "errors": errors,
        "errorCodes": {code: n for code, n in codes.items() if code not in GRANTED | REFUSED},
        "drainSeconds": round(drain, 3),
    } | result.summary()


async def run_burst(
    base_url: str, coupon_id: int, scenario: Scenario, on_answer: Callable[[int], None] | None
) -> BurstResult:
    order = user_order(scenario.users, scenario.repeats)
    return await burst(
        base_url, issue_requests(coupon_id, order), concurrency=scenario.concurrency, on_answer=on_answer
    )


def run_scenario(
    settings: Settings, scenario: Scenario, log_dir: Path, on_answer: Callable[[int], None] | None = None
) -> dict[str, object]:
    """One server (N workers) for one strategy, plus a consumer when the strategy needs one."""
    settings = dataclasses.replace(settings, strategy=scenario.strategy)  # the audit opens services for it
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = spawn_server(port, scenario.workers, log_dir, strategy=scenario.strategy)
    consumer = spawn_consumer(log_dir) if scenario.strategy == "lua-async" else None
    try:
        wait_ready(base_url, server)
        coupon_id = create_loaded_coupon(base_url, settings, scenario.stock, f"demo {scenario.strategy}")
        with watched_race(base_url, coupon_id, enabled=scenario.console):
            result = run(run_burst(base_url, coupon_id, scenario, on_answer))
            granted = granted_users(result)
            audit, drain = asyncio.run(audit_after_drain(settings, coupon_id, granted, timeout=60.0))
        return summarize(scenario, result, audit, drain) | {"couponId": coupon_id}
    finally:
        stop(server)
        stop(consumer)
