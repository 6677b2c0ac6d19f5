"""The idempotency store and the rate limiter: one contract for the Redis adapters and their memory twins,
and the idempotency key held by real Redis behind the real HTTP app."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from fcfs import open_services
from fcfs.adapters.memory.idempotency import MemoryIdempotencyStore
from fcfs.adapters.memory.rate_limit import MemoryRateLimiter
from fcfs.adapters.redis.client import RedisClient, create_client
from fcfs.adapters.redis.idempotency import RedisIdempotencyStore
from fcfs.adapters.redis.rate_limit import RedisRateLimiter
from fcfs.bootstrap.observability.metrics import process_metrics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from fcfs.ports.idempotency import IdempotencyStore, StoredAnswer
from fcfs.ports.rate_limit import RateLimit, RateLimiter
from tests.support.http_client import concurrent_client

ANSWER = StoredAnswer(202, b'{"isSuccess":true,"code":"202"}')


@pytest.fixture(params=["memory", "redis"])
def idempotency(request: pytest.FixtureRequest, redis_prefix: str) -> IdempotencyStore:
    if request.param == "memory":
        return MemoryIdempotencyStore(answer_ttl=60, pending_ttl=0.3)
    return RedisIdempotencyStore(request.getfixturevalue("adapter_redis"), redis_prefix, answer_ttl=60, pending_ttl=0.3)


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest, redis_prefix: str) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter(window_seconds=0.5)
    return RedisRateLimiter(request.getfixturevalue("adapter_redis"), redis_prefix, window_seconds=0.5)


async def test_a_key_is_claimed_once_then_in_flight_then_answered(idempotency: IdempotencyStore) -> None:
    first = await idempotency.claim(1, 7, "order-1")
    assert first.token is not None
    assert (await idempotency.claim(1, 7, "order-1")).in_flight
    assert (await idempotency.claim(1, 8, "order-1")).token is not None  # another user: another record
    assert (await idempotency.claim(2, 7, "order-1")).token is not None  # another coupon: another record
    await idempotency.settle(1, 7, "order-1", first.token, ANSWER)
    assert (await idempotency.claim(1, 7, "order-1")).answer == ANSWER


async def test_a_released_claim_can_be_taken_again(idempotency: IdempotencyStore) -> None:
    first = await idempotency.claim(1, 7, "k")
    assert first.token is not None
    await idempotency.settle(1, 7, "k", first.token, None)
    assert (await idempotency.claim(1, 7, "k")).token is not None


async def test_a_dead_claim_lapses_and_its_late_settle_changes_nothing(idempotency: IdempotencyStore) -> None:
    dead = await idempotency.claim(1, 7, "k")
    await asyncio.sleep(0.4)
    retaken = await idempotency.claim(1, 7, "k")
    assert dead.token is not None and retaken.token is not None
    await idempotency.settle(1, 7, "k", dead.token, StoredAnswer(200, b"late"))
    assert (await idempotency.claim(1, 7, "k")).in_flight
    await idempotency.settle(1, 7, "k", retaken.token, ANSWER)
    assert (await idempotency.claim(1, 7, "k")).answer == ANSWER


async def test_only_one_of_many_concurrent_claims_wins(idempotency: IdempotencyStore) -> None:
    claims = await asyncio.gather(*(idempotency.claim(3, 3, "same") for _ in range(50)))
    assert sum(claim.token is not None for claim in claims) == 1


async def test_redis_keeps_the_record_beside_the_coupon_keys_with_the_key_text_hashed(
    adapter_redis: RedisClient, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisIdempotencyStore(adapter_redis, redis_prefix, answer_ttl=60, pending_ttl=5)
    claim = await store.claim(42, 7, "{evil key} *")
    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]
    assert len(keys) == 1 and keys[0].startswith(f"{redis_prefix}:{{c:42}}:idem:7:")
    assert "evil" not in keys[0]
    assert 0 < await redis_client.pttl(keys[0]) <= 5000
    assert claim.token is not None
    await store.settle(42, 7, "{evil key} *", claim.token, ANSWER)
    assert 5000 < await redis_client.pttl(keys[0]) <= 60_000


async def test_a_window_admits_the_limit_then_refuses_until_it_ends(limiter: RateLimiter) -> None:
    limits = [RateLimit("u:1", 3)]
    assert [await limiter.hit(9, limits) > 0 for _ in range(5)] == [False, False, False, True, True]
    wait = await limiter.hit(9, limits)
    assert 0 < wait <= 0.5
    assert await limiter.hit(9, [RateLimit("u:2", 3)]) == 0  # another subject
    await asyncio.sleep(wait + 0.05)
    assert await limiter.hit(9, limits) == 0


async def test_two_redis_limiters_share_one_window(
    redis_server_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    clients = [create_client(redis_server_url), create_client(redis_server_url)]
    try:
        limiters = [RedisRateLimiter(client, redis_prefix, window_seconds=30) for client in clients]
        limits = [RateLimit("u:1", 2), RateLimit("ip:203.0.113.9", 10)]
        waits = [await limiters[i % 2].hit(5, limits) for i in range(4)]
        assert [wait > 0 for wait in waits] == [False, False, True, True]
        keys = sorted([key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")])
        assert keys == [f"{redis_prefix}:{{c:5}}:rl:ip:203.0.113.9", f"{redis_prefix}:{{c:5}}:rl:u:1"]
        for key in keys:
            assert 0 < await redis_client.pttl(key) <= 30_000
    finally:
        for client in clients:
            await client.aclose()


async def test_fifty_parallel_requests_with_one_key_on_real_redis_attempt_once(settings: Settings) -> None:
    metrics = process_metrics()
    before = sum(
        sample.value
        for family in metrics.issue_outcomes.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    async with concurrent_client(create_app(settings)) as client:
        created = await client.post("/api/v1/coupons", json={"name": "idem", "totalQuantity": 10})
        coupon_id = created.json()["result"]["id"]
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/stock")).status_code == 200
        answers = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5}, headers={"Idempotency-Key": "pay-5"}
                )
                for _ in range(50)
            )
        )
    after = sum(
        sample.value
        for family in metrics.issue_outcomes.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    assert after - before == 1, "exactly one issue attempt"
    assert {(answer.status_code, answer.content) for answer in answers} == {(200, answers[0].content)}
    async with open_services(settings) as fcfs:
        audit = await fcfs.audit_coupon.execute(coupon_id)
    assert (audit.rows, audit.row_users, audit.gate_remaining) == (1, frozenset({5}), 9)
