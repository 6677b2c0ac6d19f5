"""Item 13 on both idempotency stores: a key holds the fingerprint of the request that claimed it,
and the key claimed again for another request is a conflict, in flight or answered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fcfs.adapters.memory.idempotency import MemoryIdempotencyStore
from fcfs.adapters.redis.client import create_client
from fcfs.adapters.redis.idempotency import RedisIdempotencyStore
from fcfs.ports.idempotency import ANONYMOUS, IdempotencyStore, StoredAnswer

ANSWER = StoredAnswer(200, b'{"isSuccess":true,"code":"200"}')


@pytest.fixture(params=["memory", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_prefix: str, redis_server_url: str
) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        yield MemoryIdempotencyStore(answer_ttl=60, pending_ttl=5)
        return
    client = create_client(redis_server_url)
    try:
        yield RedisIdempotencyStore(client, redis_prefix, answer_ttl=60, pending_ttl=5)
    finally:
        await client.aclose()


async def test_another_fingerprint_conflicts_while_in_flight_and_after_the_answer(store: IdempotencyStore) -> None:
    first = await store.claim(1, ANONYMOUS, "k", "aaaa")
    assert first.token is not None
    assert (await store.claim(1, ANONYMOUS, "k", "bbbb")).conflict
    assert (await store.claim(1, ANONYMOUS, "k", "aaaa")).in_flight
    await store.settle(1, ANONYMOUS, "k", first.token, ANSWER)
    assert (await store.claim(1, ANONYMOUS, "k", "bbbb")).conflict
    assert (await store.claim(1, ANONYMOUS, "k", "aaaa")).answer == ANSWER


async def test_a_released_claim_is_free_for_another_request(store: IdempotencyStore) -> None:
    refused = await store.claim(1, ANONYMOUS, "k", "aaaa")
    assert refused.token is not None
    await store.settle(1, ANONYMOUS, "k", refused.token, None)  # nothing decided: not stored
    corrected = await store.claim(1, ANONYMOUS, "k", "bbbb")
    assert corrected.token is not None and not corrected.conflict


async def test_owners_and_coupons_have_separate_keys(store: IdempotencyStore) -> None:
    assert (await store.claim(1, 7, "k", "aaaa")).token is not None
    assert (await store.claim(1, 8, "k", "bbbb")).token is not None
    assert (await store.claim(2, 7, "k", "bbbb")).token is not None


async def test_an_answer_stored_before_fingerprints_is_still_replayed(redis_prefix: str, redis_server_url: str) -> None:
    """A rolling upgrade: answers written as `a:<status>:<body>` stay replayable for their TTL."""
    client = create_client(redis_server_url)
    try:
        store = RedisIdempotencyStore(client, redis_prefix, answer_ttl=60, pending_ttl=5)
        await client.set(store._key(1, ANONYMOUS, "old"), b"a:%d:%b" % (ANSWER.status, ANSWER.body), px=60_000)
        assert (await store.claim(1, ANONYMOUS, "old", "aaaa")).answer == ANSWER
    finally:
        await client.aclose()
