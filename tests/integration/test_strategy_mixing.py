"""Mixing strategies on one coupon (issue #12 item 7) on MariaDB + Redis + broker, with the consumer.

Stock 5: a database strategy first, then the default `lua-async` — refused (C010), nobody
left pending; `lua` first, then `lua-async` (one family) — every accepted user ends issued.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_services
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.runtime import stop
from tests.support.http_client import assert_envelope, make_coupon
from tests.support.pipeline import eventually, issued_pairs, pipeline_settings, read_topic, start_consumer

DRAIN_TIMEOUT = 60.0


@pytest.fixture
def mixed(
    settings: Settings, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, redis_client: object
) -> Settings:
    base = pipeline_settings(settings.database_url, kafka_bootstrap, topics, tmp_path)
    return dataclasses.replace(
        base, redis_url=settings.redis_url, redis_prefix=settings.redis_prefix, strategy="lua-async"
    )


@pytest.fixture
async def client(mixed: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(mixed, services=open_services(mixed))) as test_client:
        yield test_client


async def issue(client: AsyncTestClient[Litestar], coupon_id: int, user: int, strategy: str | None = None) -> object:
    query = f"?strategy={strategy}" if strategy else ""
    return await client.post(f"/api/v1/coupons/{coupon_id}/issue{query}", json={"userId": user})


async def states(client: AsyncTestClient[Litestar], coupon_id: int, users: range) -> dict[int, str]:
    found = {}
    for user in users:
        found[user] = (await client.get(f"/api/v1/coupons/{coupon_id}/issued/{user}")).json()["result"]["state"]
    return found


@pytest.mark.parametrize("first", ["atomic-query", "pessimistic-lock"])
async def test_the_default_strategy_is_refused_after_a_database_strategy_and_nobody_is_left_pending(
    client: AsyncTestClient[Litestar], first: str
) -> None:
    coupon_id = await make_coupon(client, total=5)
    assert_envelope(await issue(client, coupon_id, 1, first), 200, "200")

    for user in range(2, 7):
        assert_envelope(await issue(client, coupon_id, user), 409, "C010")

    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["issuedCount"], view["remaining"]) == (1, 4)
    assert await states(client, coupon_id, range(1, 7)) == {1: "issued"} | dict.fromkeys(range(2, 7), "none")
    assert_envelope(await issue(client, coupon_id, 2, first), 200, "200")


async def test_a_database_strategy_is_refused_on_a_coupon_the_gate_issues(client: AsyncTestClient[Litestar]) -> None:
    coupon_id = await make_coupon(client, total=5)
    assert_envelope(await issue(client, coupon_id, 1, "lua"), 200, "200")

    assert_envelope(await issue(client, coupon_id, 2, "atomic-query"), 409, "C010")
    assert_envelope(await issue(client, coupon_id, 2, "pessimistic-lock"), 409, "C010")


async def test_lua_then_lua_async_issue_exactly_the_stock_and_every_accepted_user_ends_issued(
    client: AsyncTestClient[Litestar], mixed: Settings, tmp_path: Path
) -> None:
    coupon_id = await make_coupon(client, total=5)
    assert_envelope(await issue(client, coupon_id, 1, "lua"), 200, "200")
    for user in range(2, 6):
        assert_envelope(await issue(client, coupon_id, user), 202, "202")
    assert_envelope(await issue(client, coupon_id, 6), 409, "C003")

    await ensure_topics(mixed)
    consumer = start_consumer(mixed, tmp_path / "consumer.log")
    try:

        async def drained() -> bool:
            return len(await issued_pairs(mixed.database_url)) >= 5

        await eventually(drained, DRAIN_TIMEOUT, interval=0.5)
    finally:
        stop(consumer)

    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["issuedCount"], view["remaining"]) == (5, 0)
    assert await states(client, coupon_id, range(1, 7)) == dict.fromkeys(range(1, 6), "issued") | {6: "none"}
    assert await read_topic(mixed.kafka_bootstrap_servers, mixed.dead_letter_topic) == []
