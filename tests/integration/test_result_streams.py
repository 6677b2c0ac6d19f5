"""Results pushed over SSE across instances (docs/design.md §10, issue 16): real `fcfs serve`, Redis, broker, MariaDB.

The consumer runs as its own process, started only once every listener heard `pending`, so
each `issued` below travelled consumer → Redis → the other instance → the client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from fcfs import Settings
from fcfs.adapters.redis.client import RedisClient
from fcfs.adapters.redis.result_channel import RedisIssueNotifier
from fcfs.adapters.redis.result_fanout import RedisIssueResults
from fcfs.adapters.sql.engine import create_engine
from fcfs.domain.issuance import UserIssueState
from fcfs.domain.results import CouponResults
from fcfs.entrypoints.demo import granted_users, user_order
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server
from tests.support.pipeline import start_consumer
from tests.support.sse import SseEvent, open_stream


def stream_path(coupon_id: int, user_id: int) -> str:
    return f"/api/v1/coupons/{coupon_id}/issued/{user_id}/stream"


def channel(prefix: str, coupon_id: int) -> str:
    return f"{prefix}:{{c:{coupon_id}}}:results"


async def subscribers(client: aioredis.Redis, name: str) -> int:
    return int(dict(await client.pubsub_numsub(name))[name])


async def eventually(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.05)


@pytest.fixture
def async_settings(lab_settings: Settings) -> Settings:
    return dataclasses.replace(lab_settings, strategy="lua-async", instances=2, consumer_batch=100)


@contextmanager
def servers(settings: Settings, tmp_path: Path, count: int) -> Iterator[list[str]]:
    started = [start_server(settings, 1, tmp_path / f"api-{n}") for n in range(count)]
    try:
        yield [base_url for _, base_url in started]
    finally:
        for process, _ in started:
            stop(process)


@contextmanager
def consumer(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`fcfs consume` as its own process, announcing on this test's Redis prefix."""
    monkeypatch.setenv("FCFS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("FCFS_REDIS_PREFIX", settings.redis_prefix)
    process = start_consumer(settings, tmp_path / "consumer.log")
    try:
        yield
    finally:
        stop(process)


@asynccontextmanager
async def rows_reader(database_url: str) -> AsyncIterator[object]:
    engine = create_engine(database_url, pool_size=50, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


# The Redis adapter on its own: one subscription per coupon, fanned out per user, released.


async def test_one_subscription_per_coupon_fans_out_to_each_users_listener_and_is_released(
    adapter_redis: RedisClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    fanout = RedisIssueResults(adapter_redis, redis_prefix, sharded=False)
    notifier = RedisIssueNotifier(adapter_redis, redis_prefix, sharded=False)
    try:
        async with fanout.subscribe(7, 1) as first, fanout.subscribe(7, 2) as second, fanout.subscribe(7, 3) as third:
            assert await subscribers(redis_client, channel(redis_prefix, 7)) == 1
            assert (fanout.subscriptions, fanout.listeners) == (1, 3)

            await notifier.publish(CouponResults(7, frozenset({1}), {2: "over_cap"}, committed_at=1.5))
            heard, refused = await first.wait(5.0), await second.wait(5.0)
            assert heard is not None and (heard.state, heard.committed_at) == (UserIssueState.ISSUED, 1.5)
            assert refused is not None and (refused.state, refused.reason) == (UserIssueState.FAILED, "over_cap")
            assert await third.wait(0.2) is None  # not named: nothing

        assert (fanout.subscriptions, fanout.listeners) == (0, 0)
        await eventually(lambda: _zero(redis_client, channel(redis_prefix, 7)))
    finally:
        await fanout.aclose()


async def _zero(client: aioredis.Redis, name: str) -> bool:
    return await subscribers(client, name) == 0


# Acceptance 1: the race with listeners on the other instance.


async def test_every_accepted_user_hears_issued_on_the_other_instance_once_its_row_is_committed(
    async_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(async_settings, consumer_max_rate=300.0)
    with servers(settings, tmp_path, 2) as (first, second):
        coupon_id = create_coupon(first, 1_000, "streams")
        order = user_order(10_000, 1_000)
        results = await asyncio.gather(
            burst(first, issue_requests(coupon_id, order[0::2]), concurrency=250),
            burst(second, issue_requests(coupon_id, order[1::2]), concurrency=250),
        )
        other = {user: second for user in granted_users(results[0])} | {
            user: first for user in granted_users(results[1])
        }
        assert len(other) == 1_000, [result.by_code for result in results]

        pending = asyncio.Event()
        opened = 0
        receipts: dict[int, float] = {}
        committed: dict[int, float] = {}
        missing_rows: list[int] = []

        async with rows_reader(settings.database_url) as engine:
            arriving = asyncio.Semaphore(100)  # users arrive over a moment, not in one instant of 1,000 connects

            async def listen(user: int) -> list[SseEvent]:
                nonlocal opened
                await arriving.acquire()
                async with open_stream(other[user], stream_path(coupon_id, user)) as stream:
                    assert stream.status == 200, await stream.body()
                    seen: list[SseEvent] = []
                    async for event in stream.events():
                        seen.append(event)
                        if event.event == "pending":
                            arriving.release()
                            opened += 1
                            if opened == len(other):
                                pending.set()
                        if event.event == "issued":
                            receipts[user] = time.time()
                            committed[user] = float(event.data["committedAt"])
                            if not await _has_row(engine, coupon_id, user):
                                missing_rows.append(user)
                    return seen

            listeners = [asyncio.create_task(listen(user)) for user in other]
            await asyncio.wait_for(pending.wait(), 60)  # every listener heard `pending` before any row exists
            with consumer(settings, tmp_path, monkeypatch):
                heard = await asyncio.wait_for(asyncio.gather(*listeners), 120)

    assert [[event.event for event in events] for events in heard] == [["pending", "issued"]] * len(other)
    assert not missing_rows, f"issued before the row was readable: {missing_rows[:10]}"
    latencies = sorted((receipts[user] - committed[user]) * 1000 for user in other)
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]
    print(
        f"\ncommit → receipt over SSE on the other instance, {len(latencies)} users: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


async def _has_row(engine: object, coupon_id: int, user_id: int) -> bool:
    query = text("SELECT 1 FROM issued_coupon WHERE coupon_id = :coupon AND user_id = :user")
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return (await conn.execute(query, {"coupon": coupon_id, "user": user_id})).first() is not None


# Acceptance 2 and 6: a refused user hears why; bad input and disconnects.


async def test_a_user_the_database_cap_refuses_hears_failed_with_over_cap(
    async_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with servers(async_settings, tmp_path, 1) as (base_url,):
        coupon_id = create_coupon(base_url, 3, "refused")
        answers = await burst(base_url, issue_requests(coupon_id, [1, 2, 3]), concurrency=3)
        assert answers.by_code == {"202": 3}
        engine = create_engine(async_settings.database_url, pool_size=1, max_overflow=0)
        try:  # the database's total lowered under the gate: two of the three can never have a row
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE coupon SET total_quantity = 1 WHERE id = :id"), {"id": coupon_id})
        finally:
            await engine.dispose()

        async def listen(user: int, started: asyncio.Event) -> list[SseEvent]:
            async with open_stream(base_url, stream_path(coupon_id, user)) as stream:
                seen = []
                async for event in stream.events():
                    seen.append(event)
                    started.set()
                return seen

        started = [asyncio.Event() for _ in range(3)]
        listeners = [asyncio.create_task(listen(user, started[user - 1])) for user in (1, 2, 3)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in started)), 30)
        with consumer(async_settings, tmp_path, monkeypatch):
            heard = await asyncio.wait_for(asyncio.gather(*listeners), 60)

    endings = sorted((events[-1].event, events[-1].data.get("reason")) for events in heard)
    assert [events[0].event for events in heard] == ["pending"] * 3
    assert endings == [("failed", "over_cap"), ("failed", "over_cap"), ("issued", None)]


async def test_a_stream_for_a_missing_coupon_is_a_404_envelope_and_a_client_that_leaves_frees_the_subscription(
    async_settings: Settings, tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    with servers(async_settings, tmp_path, 1) as (base_url,):
        async with open_stream(base_url, stream_path(999_999_999, 1)) as missing:
            assert missing.status == 404
            assert missing.headers["content-type"].startswith("application/json")
            assert '"code":"C001"' in await missing.body()

        coupon_id = create_coupon(base_url, 5, "leaver")
        assert (await burst(base_url, issue_requests(coupon_id, [4]), concurrency=1)).by_code == {"202": 1}
        name = channel(async_settings.redis_prefix, coupon_id)
        async with open_stream(base_url, stream_path(coupon_id, 4)) as stream:
            first = await anext(stream.events())
            assert first.event == "pending"
            await eventually(lambda: _subscribed(redis_client, name))
        # the client went away without a result: the worker's subscription must go with it
        await eventually(lambda: _zero(redis_client, name))


async def _subscribed(client: aioredis.Redis, name: str) -> bool:
    return await subscribers(client, name) == 1
