"""The unconfirmed-event ledger, against Redis and its in-memory twin alike, plus its wire format in Redis."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis

from fcfs.adapters.memory.publisher import MemoryUnconfirmedEvents
from fcfs.adapters.redis.client import RedisClient
from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents
from fcfs.domain.events import CouponIssued
from fcfs.ports.publisher import UnconfirmedEvents

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def issued(coupon_id: int = 7, user_id: int = 1, at: datetime = T0) -> CouponIssued:
    return CouponIssued(str(uuid.uuid4()), coupon_id, user_id, at)


@pytest.fixture
def redis_ledger(adapter_redis: RedisClient, redis_prefix: str) -> RedisUnconfirmedEvents:
    return RedisUnconfirmedEvents(adapter_redis, redis_prefix)


@pytest.fixture(params=["redis", "memory"])
def ledger(request: pytest.FixtureRequest) -> UnconfirmedEvents:
    if request.param == "memory":
        return MemoryUnconfirmedEvents()
    return request.getfixturevalue("redis_ledger")


async def test_recorded_events_come_back_equal(ledger: UnconfirmedEvents) -> None:
    first, second = issued(user_id=1), issued(user_id=2, at=T0 + timedelta(seconds=1))

    await ledger.record(first)
    await ledger.record(second)

    assert sorted(await ledger.list(7), key=lambda e: e.user_id) == [first, second]


async def test_settled_event_is_no_longer_listed(ledger: UnconfirmedEvents) -> None:
    kept, settled = issued(user_id=1), issued(user_id=2)
    await ledger.record(kept)
    await ledger.record(settled)

    await ledger.settle(settled)
    await ledger.settle(settled)

    assert await ledger.list(7) == [kept]


async def test_recording_twice_keeps_one_entry(ledger: UnconfirmedEvents) -> None:
    event = issued()

    await ledger.record(event)
    await ledger.record(event)

    assert await ledger.list(7) == [event]


async def test_events_are_listed_per_coupon(ledger: UnconfirmedEvents) -> None:
    mine, other = issued(coupon_id=7), issued(coupon_id=8)
    await ledger.record(mine)
    await ledger.record(other)

    assert await ledger.list(7) == [mine]
    assert await ledger.list(9) == []


async def test_events_are_stored_as_wire_json_in_the_coupons_hash_without_ttl(
    redis_ledger: RedisUnconfirmedEvents, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    seoul = timezone(timedelta(hours=9))
    event = issued(user_id=5, at=datetime(2025, 3, 1, 21, 0, 0, 5, tzinfo=seoul))

    await redis_ledger.record(event)

    key = f"{redis_prefix}:{{c:7}}:unconfirmed"
    stored = json.loads(await redis_client.hget(key, event.event_id))
    assert stored == {
        "eventId": event.event_id,
        "couponId": 7,
        "userId": 5,
        "issuedAt": "2025-03-01T12:00:00.000005Z",
        "version": 1,
    }
    assert await redis_client.ttl(key) == -1
    [back] = await redis_ledger.list(7)
    assert back == event
    assert back.issued_at.tzinfo == UTC


async def test_an_undecodable_entry_is_skipped_not_fatal(
    redis_ledger: RedisUnconfirmedEvents, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    good = issued()
    await redis_ledger.record(good)
    await redis_client.hset(f"{redis_prefix}:{{c:7}}:unconfirmed", "junk", "{not json")
    await redis_client.hset(
        f"{redis_prefix}:{{c:7}}:unconfirmed",
        "bad-user",
        json.dumps({"eventId": "x", "couponId": 7, "userId": 0, "issuedAt": "2025-01-01T00:00:00Z", "version": 1}),
    )

    assert await redis_ledger.list(7) == [good]
