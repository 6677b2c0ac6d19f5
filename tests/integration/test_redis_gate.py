"""The issuance gate's contract, run against the Redis Lua gate and its in-memory twin alike.

Redis-only properties (no TTL, key names, script cache, failures) and the 5,000-request race
run against real Redis only.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections import Counter

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.redis.batched_gate import BatchingRedisIssuanceGate
from fcfs.adapters.redis.client import RedisClient, create_client
from fcfs.adapters.redis.gate import LOAD_CHUNK, RedisIssuanceGate
from fcfs.domain.errors import GateError, InvalidInput
from fcfs.domain.issuance import GateVerdict
from fcfs.ports.gate import IssuanceGate

COUPON = 7


async def held(gate: IssuanceGate) -> tuple[int | None, set[int]]:
    """What the gate holds for `COUPON`: its remaining stock (None: never loaded) and its admitted users."""
    return await gate.remaining(COUPON), await gate.users(COUPON)


@pytest.fixture
def redis_gate(adapter_redis: RedisClient, redis_prefix: str) -> RedisIssuanceGate:
    """The Lua gate on a client of its own."""
    return RedisIssuanceGate(adapter_redis, redis_prefix)


@pytest.fixture
def batching_gate(adapter_redis: RedisClient, redis_prefix: str) -> BatchingRedisIssuanceGate:
    """The gate that sends one loop turn's attempts on a coupon as one `issue_many.lua` call."""
    return BatchingRedisIssuanceGate(adapter_redis, redis_prefix)


@pytest.fixture(params=["redis", "batching", "memory"])
def gate(request: pytest.FixtureRequest) -> IssuanceGate:
    if request.param == "memory":
        return MemoryIssuanceGate()
    return request.getfixturevalue(f"{request.param}_gate" if request.param == "batching" else "redis_gate")


@pytest.fixture(params=["redis", "batching"])
def real_gate(request: pytest.FixtureRequest) -> IssuanceGate:
    return request.getfixturevalue("batching_gate" if request.param == "batching" else "redis_gate")


# --- the contract -------------------------------------------------------------------------


async def test_issue_before_stock_is_loaded_is_refused_as_not_loaded(gate: IssuanceGate) -> None:
    assert await gate.try_issue(COUPON, 1) is GateVerdict.NOT_LOADED
    assert await held(gate) == (None, set())


async def test_first_request_is_issued_and_takes_one_unit(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 3, [])

    assert await gate.try_issue(COUPON, 1) is GateVerdict.ISSUED

    assert await held(gate) == (2, {1})
    assert await gate.holds_user(COUPON, 1)


async def test_second_request_from_same_user_is_refused_and_takes_nothing(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 3, [])
    await gate.try_issue(COUPON, 1)

    assert await gate.try_issue(COUPON, 1) is GateVerdict.ALREADY_ISSUED

    assert await held(gate) == (2, {1})


async def test_request_after_the_last_unit_is_sold_out(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 1, [])
    assert await gate.try_issue(COUPON, 1) is GateVerdict.ISSUED

    assert await gate.try_issue(COUPON, 2) is GateVerdict.SOLD_OUT

    assert await held(gate) == (0, {1})


async def test_holder_asking_again_after_sell_out_hears_already_issued(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 1, [])
    await gate.try_issue(COUPON, 1)

    assert await gate.try_issue(COUPON, 1) is GateVerdict.ALREADY_ISSUED


async def test_users_loaded_with_the_stock_are_already_issued(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 5, [10, 11])

    assert await gate.try_issue(COUPON, 10) is GateVerdict.ALREADY_ISSUED
    assert await gate.remaining(COUPON) == 5


async def test_coupons_do_not_share_stock_or_users(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 1, [])
    await gate.load_stock(COUPON + 1, 1, [])
    await gate.try_issue(COUPON, 1)

    assert await gate.try_issue(COUPON + 1, 1) is GateVerdict.ISSUED
    assert await gate.users(COUPON + 1) == {1}


async def test_compensate_restores_exactly_one_unit_and_the_user(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 2, [])
    await gate.try_issue(COUPON, 1)
    await gate.try_issue(COUPON, 2)

    assert await gate.compensate(COUPON, 1) is True

    assert await held(gate) == (1, {2})
    assert not await gate.holds_user(COUPON, 1)
    assert await gate.try_issue(COUPON, 1) is GateVerdict.ISSUED


async def test_compensating_twice_is_a_no_op(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 2, [])
    await gate.try_issue(COUPON, 1)
    await gate.compensate(COUPON, 1)

    assert await gate.compensate(COUPON, 1) is False

    assert await held(gate) == (2, set())


async def test_compensating_a_user_never_admitted_changes_nothing(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 2, [5])

    assert await gate.compensate(COUPON, 6) is False

    assert await held(gate) == (2, {5})


async def test_load_stock_replaces_stock_and_users(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 5, [1, 2])
    await gate.try_issue(COUPON, 3)

    await gate.load_stock(COUPON, 3, [7])

    assert await held(gate) == (3, {7})
    assert await gate.try_issue(COUPON, 1) is GateVerdict.ISSUED


async def test_load_stock_without_users_empties_the_users(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 5, [1, 2])

    await gate.load_stock(COUPON, 0, [])

    assert await held(gate) == (0, set())
    assert await gate.try_issue(COUPON, 1) is GateVerdict.SOLD_OUT


async def test_load_stock_holds_more_users_than_one_chunk(gate: IssuanceGate) -> None:
    users = range(1, 2 * LOAD_CHUNK + 500)

    await gate.load_stock(COUPON, 1, users)

    assert await gate.users(COUPON) == set(users)
    assert await gate.try_issue(COUPON, LOAD_CHUNK + 1) is GateVerdict.ALREADY_ISSUED


async def test_forget_drops_the_coupon(gate: IssuanceGate) -> None:
    await gate.load_stock(COUPON, 5, [1])

    await gate.forget(COUPON)

    assert await held(gate) == (None, set())
    assert await gate.try_issue(COUPON, 2) is GateVerdict.NOT_LOADED


# --- Redis only ---------------------------------------------------------------------------


async def test_keys_follow_the_design_names_and_share_one_slot(
    redis_gate: RedisIssuanceGate, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    await redis_gate.load_stock(COUPON, 4, [1])
    await redis_gate.try_issue(COUPON, 2)

    stock, users = f"{redis_prefix}:{{c:{COUPON}}}:stock", f"{redis_prefix}:{{c:{COUPON}}}:users"
    assert sorted([key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]) == [stock, users]
    assert await redis_client.get(stock) == "3"
    assert await redis_client.smembers(users) == {"1", "2"}
    assert key_slot(stock.encode()) == key_slot(users.encode())


async def test_gate_keys_never_expire(
    redis_gate: RedisIssuanceGate, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    stock, users = f"{redis_prefix}:{{c:{COUPON}}}:stock", f"{redis_prefix}:{{c:{COUPON}}}:users"
    await redis_client.set(stock, 99, ex=60)  # a TTL left by an older loader must not survive a reload

    await redis_gate.load_stock(COUPON, 4, range(1, 3 * LOAD_CHUNK))
    await redis_gate.try_issue(COUPON, 3 * LOAD_CHUNK)
    await redis_gate.compensate(COUPON, 1)

    assert await redis_client.ttl(stock) == -1
    assert await redis_client.ttl(users) == -1
    assert [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*loading*")] == []


async def test_negative_stock_is_refused_before_redis_is_touched(
    redis_gate: RedisIssuanceGate, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    with pytest.raises(InvalidInput):
        await redis_gate.load_stock(COUPON, -1, [])

    assert await redis_client.exists(f"{redis_prefix}:{{c:{COUPON}}}:stock") == 0


async def test_issue_still_works_after_the_script_cache_is_flushed(
    redis_gate: RedisIssuanceGate, redis_client: aioredis.Redis
) -> None:
    await redis_gate.load_stock(COUPON, 2, [])
    assert await redis_gate.try_issue(COUPON, 1) is GateVerdict.ISSUED

    await redis_client.script_flush()  # harmless to others: every caller of the helper reloads on NOSCRIPT

    assert await redis_gate.try_issue(COUPON, 2) is GateVerdict.ISSUED
    await redis_client.script_flush()
    assert await redis_gate.compensate(COUPON, 2) is True
    await redis_client.script_flush()
    await redis_gate.load_stock(COUPON, 9, [4])
    assert await redis_gate.remaining(COUPON) == 9


async def test_corrupted_stock_surfaces_as_gate_error(
    redis_gate: RedisIssuanceGate, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    await redis_client.set(f"{redis_prefix}:{{c:{COUPON}}}:stock", "not-a-number")

    with pytest.raises(GateError):
        await redis_gate.try_issue(COUPON, 1)

    assert await redis_client.exists(f"{redis_prefix}:{{c:{COUPON}}}:users") == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_is_a_gate_error(unreachable_redis: RedisClient) -> None:
    gate = RedisIssuanceGate(unreachable_redis, "fcfs-t-down")
    with pytest.raises(GateError):
        await gate.try_issue(COUPON, 1)
    with pytest.raises(GateError):
        await gate.load_stock(COUPON, 1, [1])
    with pytest.raises(GateError):
        await gate.remaining(COUPON)


async def _serve_but_never_answer_scripts(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, received: list[bytes]
) -> None:
    """A fake Redis: +OK to the connection handshake, silence for EVALSHA (the reply is lost)."""
    while True:
        header = await reader.readline()
        if not header:
            return
        words = []
        for _ in range(int(header[1:])):
            length = int((await reader.readline())[1:])
            words.append((await reader.readexactly(length + 2))[:-2])
        received.append(words[0].upper())
        if words[0].upper() != b"EVALSHA":
            writer.write(b"+PONG\r\n" if words[0].upper() == b"PING" else b"+OK\r\n")
            await writer.drain()


async def test_a_lost_reply_is_a_gate_error_with_unknown_outcome_and_is_never_resent() -> None:
    received: list[bytes] = []
    server = await asyncio.start_server(lambda r, w: _serve_but_never_answer_scripts(r, w, received), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = create_client(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        with pytest.raises(GateError, match="outcome unknown"):
            await RedisIssuanceGate(client, "fcfs-t-silent").try_issue(COUPON, 1)
        await asyncio.sleep(0.3)  # a retry, if any, would arrive now

        assert received.count(b"EVALSHA") == 1
    finally:
        await client.aclose()
        server.close()


def test_a_prefix_that_would_move_the_hash_tag_is_refused() -> None:
    for bad in ["", "fcfs{x}", "a b", "x}"]:
        with pytest.raises(ValueError):
            RedisIssuanceGate(create_client("redis://127.0.0.1:6379/0"), bad)


async def test_five_thousand_concurrent_requests_issue_exactly_the_stock(
    real_gate: IssuanceGate, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    redis_gate = real_gate
    stock = 100
    distinct = list(range(1, 4_501))
    requests = distinct + random.Random(7).sample(distinct, 500)
    random.Random(8).shuffle(requests)
    await redis_gate.load_stock(COUPON, stock, [])

    verdicts = await asyncio.gather(*(redis_gate.try_issue(COUPON, user) for user in requests))

    granted = [user for user, verdict in zip(requests, verdicts, strict=True) if verdict is GateVerdict.ISSUED]
    assert len(granted) == stock
    assert len(set(granted)) == stock
    assert Counter(verdicts)[GateVerdict.NOT_LOADED] == 0
    users = await redis_client.smembers(f"{redis_prefix}:{{c:{COUPON}}}:users")
    assert {int(user) for user in users} == set(granted)
    remaining = int(await redis_client.get(f"{redis_prefix}:{{c:{COUPON}}}:stock"))
    assert remaining == 0
    assert remaining + len(users) == stock


async def test_a_batch_decides_each_attempt_as_the_single_script_would_in_arrival_order(
    batching_gate: BatchingRedisIssuanceGate,
) -> None:
    await batching_gate.load_stock(COUPON, 2, [9])
    users = [1, 1, 9, 2, 3, 2]
    verdicts = await asyncio.gather(*(batching_gate.try_issue(COUPON, user) for user in users))
    assert verdicts == [
        GateVerdict.ISSUED,
        GateVerdict.ALREADY_ISSUED,
        GateVerdict.ALREADY_ISSUED,
        GateVerdict.ISSUED,
        GateVerdict.SOLD_OUT,
        GateVerdict.ALREADY_ISSUED,
    ]
    assert await held(batching_gate) == (0, {1, 2, 9})


async def test_a_batch_on_an_unloaded_coupon_is_not_loaded_for_every_attempt(
    batching_gate: BatchingRedisIssuanceGate,
) -> None:
    verdicts = await asyncio.gather(*(batching_gate.try_issue(COUPON + 1, user) for user in range(1, 6)))
    assert set(verdicts) == {GateVerdict.NOT_LOADED}


async def test_a_failed_batch_fails_every_attempt_with_gate_error() -> None:
    client = create_client("redis://127.0.0.1:1/0", timeout=0.2)
    gate = BatchingRedisIssuanceGate(client, "fcfs-t-down")
    try:
        results = await asyncio.gather(*(gate.try_issue(COUPON, user) for user in range(1, 4)), return_exceptions=True)
    finally:
        await client.aclose()
    assert all(isinstance(result, GateError) for result in results), results
