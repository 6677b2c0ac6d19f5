"""The client factory and the readiness check, against real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from fcfs.adapters.redis.client import RedisClient, RedisHealthCheck, create_client
from fcfs.adapters.redis.gate import RedisIssuanceGate
from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock
from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents
from fcfs.domain.errors import GateError
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import GateVerdict


async def test_health_check_passes_when_redis_answers(redis_server_url: str) -> None:
    client = create_client(redis_server_url)
    try:
        check = RedisHealthCheck(client)
        await check.check()
        assert check.name == "redis"
    finally:
        await client.aclose()


async def test_health_check_fails_with_gate_error_when_redis_is_down(unreachable_redis: RedisClient) -> None:
    with pytest.raises(GateError):
        await RedisHealthCheck(unreachable_redis).check()


async def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing(
    redis_server_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    client = create_client(redis_server_url, max_connections=4, timeout=10.0)
    gate = RedisIssuanceGate(client, redis_prefix)
    try:
        await gate.load_stock(1, 30, [])

        verdicts = await asyncio.gather(*(gate.try_issue(1, user) for user in range(1, 501)))

        assert verdicts.count(GateVerdict.ISSUED) == 30
        assert verdicts.count(GateVerdict.SOLD_OUT) == 470
    finally:
        await client.aclose()


async def test_replies_are_bytes_and_the_adapters_parse_them(redis_server_url: str) -> None:
    client = create_client(redis_server_url)
    try:
        assert await client.echo("x") == b"x"
    finally:
        await client.aclose()


async def test_the_adapters_also_work_on_a_client_that_decodes_replies(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    gate = RedisIssuanceGate(redis_client, redis_prefix)
    ledger = RedisUnconfirmedEvents(redis_client, redis_prefix)
    event = CouponIssued("e-1", 1, 2, datetime(2025, 1, 1, tzinfo=UTC))

    await gate.load_stock(1, 2, [5])
    assert await gate.try_issue(1, 2) is GateVerdict.ISSUED
    assert await gate.users(1) == {2, 5}
    assert await gate.remaining(1) == 1
    await ledger.record(event)
    assert await ledger.list(1) == [event]
    for lock in (
        RedisDistributedLock(redis_client, redis_prefix, 1.0, 1.0),
        RedisSpinLock(redis_client, redis_prefix, 1.0, 1.0),
    ):
        async with lock.hold("c:1"):
            pass
