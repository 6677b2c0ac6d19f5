"""No ghost issuance across coupons (issue #12 item 6, invariant 4), on MariaDB and on SQLite.

A deleted coupon's id is never given to another, so nothing keyed by it (events in
flight, gate keys, idempotency answers, rate-limit counters) can act on a new coupon;
events for a coupon that no longer exists are dead-lettered, never retried, never rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fcfs.adapters.memory.publisher import MemoryDeadLetterPublisher
from fcfs.adapters.sql.migrate import upgrade
from fcfs.bootstrap.container import open_services
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.bootstrap.settings import Settings
from fcfs.domain.events import DeadLetterReason
from fcfs.domain.use_cases import ProcessIssuedBatch
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.runtime import stop
from fcfs.ports.consumer import ConsumedBatch, ConsumedEvent
from tests.support.http_client import assert_envelope, make_coupon
from tests.support.pipeline import eventually, headers_of, issued_pairs, pipeline_settings, read_topic, start_consumer
from tests.support.stores import coupon_of, issued, opened_store, sqlite_url

DRAIN_TIMEOUT = 60.0


@pytest.fixture(params=["mariadb", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """MariaDB's per-test database (migrated by its fixture), or a SQLite file (migrated by `migrated`)."""
    return str(request.getfixturevalue("database_url")) if request.param == "mariadb" else sqlite_url(tmp_path)


@pytest.fixture
async def migrated(url: str) -> str:
    await upgrade(url)
    return url


@pytest.fixture
def gated(migrated: str, redis_server_url: str, redis_prefix: str, redis_client: object) -> Settings:
    """`lua` on the database under test and Redis (keys under this test's prefix, removed afterwards)."""
    return Settings(database_url=migrated, redis_url=redis_server_url, redis_prefix=redis_prefix, strategy="lua")


@pytest.fixture
async def client(gated: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(gated, services=open_services(gated))) as test_client:
        yield test_client


async def test_the_newest_coupons_id_is_not_given_again_once_it_is_deleted(url: str) -> None:
    async with opened_store(url) as store:
        first = await coupon_of(store)
        newest = await coupon_of(store)
        assert await store.coupons.delete(newest.id)
        created = await coupon_of(store)

    assert created.id > newest.id > first.id


async def test_a_sqlite_file_made_before_the_fix_keeps_its_rows_and_stops_reusing_ids(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade(url, "0001")
    async with opened_store(url) as store:
        kept = await coupon_of(store, total=5)
        newest = await coupon_of(store, total=5)
        await store.issued.persist_capped([issued(kept.id, 7), issued(newest.id, 8), issued(newest.id, 9)])

    await upgrade(url)

    async with opened_store(url) as store:
        assert await store.issued.user_ids(kept.id) == {7}
        assert await store.issued.user_ids(newest.id) == {8, 9}
        assert await store.coupons.delete(newest.id)
        created = await coupon_of(store)
        assert created.id > newest.id
        assert await store.issued.count(created.id) == 0
        assert await store.issued.user_ids(kept.id) == {7}


async def test_a_batch_for_a_deleted_coupon_is_dead_lettered_at_once_and_adds_no_row_to_the_next(url: str) -> None:
    async with opened_store(url) as store:
        deleted = await coupon_of(store, total=10)
        in_flight = [issued(deleted.id, user) for user in range(1, 11)]
        assert await store.coupons.delete(deleted.id)
        created = await coupon_of(store, total=10)
        letters = MemoryDeadLetterPublisher()
        batch = ConsumedBatch(tuple(ConsumedEvent(event, event.key.encode(), None) for event in in_flight))

        report = await ProcessIssuedBatch(store.issued, letters).execute(batch)

        assert created.id != deleted.id
        assert await store.issued.count(created.id) == 0
    assert (report.unknown_coupon, report.inserted, report.attempts) == (10, 0, 1)
    assert [letter.reason for letter in letters.letters] == [DeadLetterReason.UNKNOWN_COUPON] * 10


async def test_an_idempotency_answer_of_a_deleted_coupon_is_not_replayed_for_the_next(
    client: AsyncTestClient[Litestar],
) -> None:
    deleted = await make_coupon(client, total=5)
    first = await client.post(f"/api/v1/coupons/{deleted}/issue", json={"userId": 1}, headers={"Idempotency-Key": "k"})
    assert_envelope(first, 200, "200")
    assert (await client.delete(f"/api/v1/coupons/{deleted}")).status_code == 200
    created = await make_coupon(client, total=5)

    again = await client.post(f"/api/v1/coupons/{created}/issue", json={"userId": 1}, headers={"Idempotency-Key": "k"})

    assert created != deleted
    assert_envelope(again, 200, "200")
    assert "Idempotent-Replayed" not in again.headers
    state = await client.get(f"/api/v1/coupons/{created}/issued/1")
    assert state.json()["result"]["state"] == "issued"


async def test_events_in_flight_when_their_coupon_is_deleted_never_become_rows_of_the_next(
    url: str, gated: Settings, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    """The issue's scenario: ten users accepted, the coupon deleted before the consumer ran, another created."""
    base = pipeline_settings(url, kafka_bootstrap, topics, tmp_path)
    settings = dataclasses.replace(
        base, redis_url=gated.redis_url, redis_prefix=gated.redis_prefix, strategy="lua-async"
    )
    async with AsyncTestClient(create_app(settings, services=open_services(settings))) as client:
        deleted = await make_coupon(client, total=10)
        for user in range(1, 11):
            assert_envelope(await client.post(f"/api/v1/coupons/{deleted}/issue", json={"userId": user}), 202, "202")
        assert (await client.delete(f"/api/v1/coupons/{deleted}")).status_code == 200
        created = await make_coupon(client, total=10)

    await ensure_topics(settings)  # the dead-letter topic too, so it can be read before the first letter
    consumer = start_consumer(settings, tmp_path / "consumer.log")
    try:

        async def all_dead_lettered() -> bool:
            return len(await read_topic(kafka_bootstrap, settings.dead_letter_topic)) >= 10

        await eventually(all_dead_lettered, DRAIN_TIMEOUT, interval=0.5)
    finally:
        stop(consumer)
    async with AsyncTestClient(create_app(settings, services=open_services(settings))) as client:
        view = (await client.get(f"/api/v1/coupons/{created}")).json()["result"]
        states = {
            (await client.get(f"/api/v1/coupons/{created}/issued/{user}")).json()["result"]["state"]
            for user in range(1, 11)
        }

    assert created != deleted
    assert await issued_pairs(url) == []
    assert (view["issuedCount"], view["remaining"]) == (0, 10)
    assert states == {"none"}
    letters = await read_topic(kafka_bootstrap, settings.dead_letter_topic)
    assert {headers_of(letter)["fcfs-dlt-reason"] for letter in letters} == {b"unknown_coupon"}
