"""The gate in each of its forms, for tests that hold it to one contract: plain Redis, batching Redis, the twin."""

from __future__ import annotations

import pytest

from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.redis.batched_gate import BatchingRedisIssuanceGate
from fcfs.adapters.redis.client import RedisClient
from fcfs.adapters.redis.gate import RedisIssuanceGate

Gate = RedisIssuanceGate | MemoryIssuanceGate
GATE_KINDS = ["redis", "batching", "memory"]


def gate_of_kind(request: pytest.FixtureRequest) -> Gate:
    """`request.param` names the kind; the Redis kinds use the test's client and key prefix."""
    if request.param == "memory":
        return MemoryIssuanceGate()
    client: RedisClient = request.getfixturevalue("adapter_redis")
    prefix: str = request.getfixturevalue("redis_prefix")
    return (
        BatchingRedisIssuanceGate(client, prefix) if request.param == "batching" else RedisIssuanceGate(client, prefix)
    )
