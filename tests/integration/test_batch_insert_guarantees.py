"""The consumer's batch insert keeps the cap and idempotence under redelivery and concurrent consumers.

Each "consumer" here is its own engine (its own pool, as a separate `fcfs consume` process
has) calling `persist_capped` with batches the way a consumer group hands them out after
crashes and rebalances: the same batch to two members, and batches cut at other offsets
than the first time. Every claim is checked against the rows in MariaDB: never more rows
than `total_quantity`, one row per user, the count equal to the rows, every event of a
coupon with enough stock persisted, and each event reported `inserted` by exactly one
delivery. SQLite runs the same races through its bound-parameter path.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from fcfs.adapters.sql.statements import literal_insert_issued
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import PersistResult
from tests.support.stores import Store, coupon_of, issued, issued_quantity, opened_store, sqlite_url

CONSUMERS = 3
BATCH = 500


@pytest.fixture(params=["mariadb", "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("database_url") if request.param == "mariadb" else sqlite_url(tmp_path)


@pytest.fixture
async def consumers(db_url: str) -> AsyncIterator[list[Store]]:
    """`CONSUMERS` stores over the same database, each with its own engine and pool."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(opened_store(db_url, pool_size=4)) for _ in range(CONSUMERS)]


def users_of(events: int, start: int = 1) -> range:
    return range(start, start + events)


def deliveries(events: list[CouponIssued], rng: random.Random) -> list[list[CouponIssued]]:
    """Every event at least twice: the batches as first cut, all of them again, and re-cut at other offsets."""
    first = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    shift = BATCH // 3
    recut = [events[i : i + BATCH] for i in range(shift, len(events), BATCH)] + [events[:shift]]
    batches = first + first + recut
    rng.shuffle(batches)
    return batches


async def consume(stores: list[Store], batches: list[list[CouponIssued]]) -> list[PersistResult]:
    """The batches shared out round-robin over the consumers, all running at once, each batch in turn.

    Also checks that each delivery reported every one of its events in exactly one list.
    """

    async def member(store: Store, mine: list[list[CouponIssued]]) -> list[PersistResult]:
        return [await store.issued.persist_capped(batch) for batch in mine]

    shares = [batches[index :: len(stores)] for index in range(len(stores))]
    results = await asyncio.gather(*(member(store, share) for store, share in zip(stores, shares, strict=True)))
    for share, share_results in zip(shares, results, strict=True):
        for batch, result in zip(share, share_results, strict=True):
            reported = result.inserted + result.duplicates + result.over_cap + result.unknown_coupon
            assert sorted(reported) == sorted(event.event_id for event in batch)
    return [result for share_results in results for result in share_results]


async def rows(store: Store, coupon_id: int) -> list[tuple[int, str]]:
    assert store.engine is not None
    async with store.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT user_id, event_id FROM issued_coupon WHERE coupon_id = :id"), {"id": coupon_id}
        )
        return [(int(user_id), str(event_id)) for user_id, event_id in found]


async def test_with_stock_for_all_every_event_becomes_exactly_one_row_whatever_the_redeliveries(
    consumers: list[Store],
) -> None:
    total = 4_000 if consumers[0].engine and consumers[0].engine.dialect.name != "sqlite" else 1_500
    coupon = await coupon_of(consumers[0], total=total)
    events = [issued(coupon.id, user) for user in users_of(total)]
    batches = deliveries(events, random.Random(15))

    results = await consume(consumers, batches)

    stored = await rows(consumers[0], coupon.id)
    assert sorted(stored) == sorted((event.user_id, event.event_id) for event in events)
    assert await issued_quantity(consumers[0], coupon.id) == total
    inserted = [event_id for result in results for event_id in result.inserted]
    assert sorted(inserted) == sorted(event.event_id for event in events)
    assert not any(result.over_cap or result.unknown_coupon for result in results)


async def test_with_more_users_than_stock_the_rows_stop_exactly_at_the_total(consumers: list[Store]) -> None:
    sqlite = consumers[0].engine is not None and consumers[0].engine.dialect.name == "sqlite"
    total, demand = (600, 1_500) if sqlite else (2_500, 6_000)
    coupon = await coupon_of(consumers[0], total=total)
    events = [issued(coupon.id, user) for user in users_of(demand)]
    batches = deliveries(events, random.Random(7))

    results = await consume(consumers, batches)

    stored = await rows(consumers[0], coupon.id)
    assert len(stored) == total
    assert len({user for user, _ in stored}) == total
    assert await issued_quantity(consumers[0], coupon.id) == total
    mine = {event.user_id: event.event_id for event in events}
    assert all(mine[user] == event_id for user, event_id in stored)
    inserted = [event_id for result in results for event_id in result.inserted]
    assert sorted(inserted) == sorted(event_id for _, event_id in stored)
    refused = {event_id for result in results for event_id in result.over_cap}
    assert refused.isdisjoint(inserted)


async def test_a_redelivery_cut_at_other_offsets_reports_exactly_which_events_are_new(consumers: list[Store]) -> None:
    store = consumers[0]
    coupon = await coupon_of(store, total=10_000)
    committed = [issued(coupon.id, user) for user in users_of(2_000)]
    await store.issued.persist_capped(committed)
    new = [issued(coupon.id, user) for user in users_of(1_000, start=2_001)]

    result = await store.issued.persist_capped(committed[1_000:] + new)

    assert result.inserted == tuple(event.event_id for event in new)
    assert result.duplicates == tuple(event.event_id for event in committed[1_000:])
    assert await issued_quantity(store, coupon.id) == 3_000
    assert len(await rows(store, coupon.id)) == 3_000


async def test_two_consumers_given_the_same_batches_at_once_report_each_event_inserted_once(
    consumers: list[Store],
) -> None:
    coupon = await coupon_of(consumers[0], total=10_000)
    events = [issued(coupon.id, user) for user in users_of(3_000)]
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]

    first, second = await asyncio.gather(
        *(asyncio.gather(*(store.issued.persist_capped(batch) for batch in batches)) for store in consumers[:2])
    )

    inserted = [event_id for result in [*first, *second] for event_id in result.inserted]
    assert sorted(inserted) == sorted(event.event_id for event in events)
    assert await issued_quantity(consumers[0], coupon.id) == len(events)


async def test_values_outside_the_inlined_forms_are_stored_exactly_as_given(consumers: list[Store]) -> None:
    store = consumers[0]
    coupon = await coupon_of(store, total=10)
    tokyo = timezone(timedelta(hours=9))
    odd = [
        CouponIssued("it's-not-a-uuid", coupon.id, 1, datetime(2031, 1, 2, 3, 4, 5, 600_007, tzinfo=UTC)),
        CouponIssued(str(uuid.uuid4()).upper(), coupon.id, 2, datetime(2031, 1, 2, 12, 0, tzinfo=tokyo)),
    ]
    plain = [
        CouponIssued(str(uuid.uuid4()), coupon.id, 3, datetime(2031, 1, 2, 12, 0, tzinfo=tokyo)),
        CouponIssued(str(uuid.uuid4()), coupon.id, 4, datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)),
        CouponIssued(str(uuid.uuid4()), coupon.id, 5, datetime(2031, 1, 2, 3, 4, 5, 1)),
    ]

    for batch in (odd, plain):
        assert (await store.issued.persist_capped(batch)).inserted == tuple(event.event_id for event in batch)

    for event in odd + plain:
        row = await store.issued.find(coupon.id, event.user_id)
        assert row is not None
        assert row.event_id == event.event_id
        expected = event.issued_at if event.issued_at.tzinfo else event.issued_at.replace(tzinfo=UTC)
        assert row.issued_at == expected


def test_only_ids_canonical_uuids_and_datetimes_are_ever_inlined() -> None:
    at = datetime(2031, 1, 2, tzinfo=UTC)
    canonical = CouponIssued(str(uuid.uuid4()), 1, 2, at)

    assert literal_insert_issued("mysql", 1, [canonical]) is not None
    assert literal_insert_issued("sqlite", 1, [canonical]) is None
    for event_id in ("x'),(1,2,'y", str(uuid.uuid4()).upper(), str(uuid.uuid4()) + "0", str(uuid.uuid4().hex)):
        assert literal_insert_issued("mysql", 1, [canonical, CouponIssued(event_id, 1, 3, at)]) is None


async def test_each_coupon_of_a_batch_is_committed_before_the_next_coupon_is_locked(database_url: str) -> None:
    """A batch over two coupons, the second's row held by another transaction: the first's rows are durable
    (and its lock released) meanwhile, so a consumer waiting on one coupon never holds another's lock."""
    async with opened_store(database_url, pool_size=2) as store, opened_store(database_url, pool_size=2) as other:
        first, second = await coupon_of(store, 10), await coupon_of(store, 10)
        batch = [issued(first.id, 1), issued(first.id, 2), issued(second.id, 1)]
        assert other.engine is not None
        async with other.engine.connect() as holder:
            await holder.begin()
            await holder.execute(text("SELECT id FROM coupon WHERE id = :id FOR UPDATE"), {"id": second.id})
            persisting = asyncio.create_task(store.issued.persist_capped(batch))
            async with asyncio.timeout(10):
                while len(await rows(other, first.id)) < 2:
                    assert not persisting.done()
                    await asyncio.sleep(0.02)
            assert await rows(other, second.id) == []
            await holder.rollback()
        result = await asyncio.wait_for(persisting, 10)

    assert sorted(result.inserted) == sorted(event.event_id for event in batch)
    assert result.duplicates == result.over_cap == result.unknown_coupon == ()
