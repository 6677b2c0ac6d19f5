"""`fcfs reconcile` (docs/design.md §6.7) on Redis + tansu + MariaDB, wired by the container as the CLI wires it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from fcfs.bootstrap.pipeline import PipelineContainer, consumer_heartbeat_path, open_reconcile
from fcfs.bootstrap.settings import Settings
from fcfs.domain.use_cases import Reconcile
from fcfs.entrypoints.consumer import run_consumer
from tests.support.pipeline import (
    create_coupon,
    events_for,
    eventually,
    issued_pairs,
    publish_all,
)


async def drain(settings: Settings, database_url: str, rows: int) -> None:
    """Run a consumer until `rows` exist and the group has committed everything."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(settings, stop=stop))

    async def done() -> bool:
        if task.done():
            task.result()
        return len(await issued_pairs(database_url)) >= rows

    try:
        await eventually(done, 60.0)
        await asyncio.sleep(0.5)  # the commit follows the rows
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@dataclass
class Scene:
    """A coupon of 10 whose stock is loaded into the gate, and reconciliation wired as the CLI wires it."""

    settings: Settings
    coupon_id: int
    gate: Any  # the container's Redis gate, undecorated: admission and stock administration both
    reconcile: Reconcile


@pytest.fixture
async def scene(pipeline_settings_on_services: Settings) -> AsyncIterator[Scene]:
    settings = pipeline_settings_on_services
    coupon_id = await create_coupon(settings.database_url, 10)
    container = PipelineContainer(settings=settings, heartbeat_path=consumer_heartbeat_path(settings))
    async with open_reconcile(settings, container) as reconcile:
        gate = await container.gate_stock()
        await gate.load_stock(coupon_id, 10, set())
        yield Scene(settings, coupon_id, gate, reconcile)


async def test_a_user_admitted_whose_event_was_lost_is_republished_and_the_lost_gate_is_rebuilt(
    scene: Scene, database_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings, coupon_id, gate, reconcile = scene.settings, scene.coupon_id, scene.gate, scene.reconcile
    for user in (1, 2, 3):
        await gate.try_issue(coupon_id, user)
    await publish_all(settings, events_for(coupon_id, [1, 2]))  # user 3's event never made it
    await drain(settings, database_url, 2)

    found = await reconcile.execute(coupon_id)
    assert found.consumer_lag == 0
    assert found.held_without_row == (3,)
    assert found.republished == (3,)
    await drain(settings, database_url, 3)
    assert sorted(await issued_pairs(database_url)) == [(coupon_id, 1), (coupon_id, 2), (coupon_id, 3)]

    await redis_client.delete(*[key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")])
    rebuilt = await reconcile.execute(coupon_id)
    assert rebuilt.rows_without_hold == (1, 2, 3)
    assert rebuilt.rebuilt_stock == 7
    assert await gate.remaining(coupon_id) == 7
    assert await gate.users(coupon_id) == {1, 2, 3}
    assert (await reconcile.execute(coupon_id)).consistent


async def test_a_dry_run_with_the_consumer_behind_reports_the_lag_and_changes_nothing(
    scene: Scene, database_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings, coupon_id, gate, reconcile = scene.settings, scene.coupon_id, scene.gate, scene.reconcile
    await gate.try_issue(coupon_id, 1)
    await publish_all(settings, events_for(coupon_id, [1]))

    report = await reconcile.execute(coupon_id, dry_run=True)

    assert report.consumer_lag == 1
    assert report.held_without_row == (1,)
    assert report.republished == ()
    assert await issued_pairs(database_url) == []
    assert await redis_client.scard(f"{redis_prefix}:{{c:{coupon_id}}}:users") == 1
