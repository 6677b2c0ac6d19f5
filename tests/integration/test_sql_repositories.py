"""The storage contract, run against MariaDB, SQLite and the in-memory twins (plain and InnoDB-like) alike.

The capped batch insert (docs/design.md §6.5–6.6) and the unit of work the SQL strategies
compose. Properties only a real database has (row locks, concurrent transactions, several
processes sharing a SQLite file) run against the databases only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fcfs.domain.coupon import NewCoupon, ValidityWindow
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import PersistResult
from tests.support.stores import (
    INNODB_TWIN,
    MEMORY,
    Store,
    coupon_of,
    issued,
    issued_quantity,
    opened_store,
    sqlite_url,
)


@pytest.fixture(params=["mariadb", "sqlite", "memory", "innodb-twin"])
def backend_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "mariadb":
        return str(request.getfixturevalue("database_url"))
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return MEMORY if request.param == "memory" else INNODB_TWIN


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    async with opened_store(backend_url, pool_size=5) as opened:
        yield opened


def ids(*events: CouponIssued) -> tuple[str, ...]:
    return tuple(e.event_id for e in events)


def outcome_count(result: PersistResult) -> int:
    return len(result.inserted) + len(result.duplicates) + len(result.over_cap) + len(result.unknown_coupon)


# --- coupons ---------------------------------------------------------------------------------


async def test_a_stored_coupon_reads_back_with_the_same_window_to_the_microsecond(store: Store) -> None:
    starts = datetime(2031, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
    ends = datetime(2031, 5, 2, 18, 0, tzinfo=UTC) + timedelta(hours=2)
    window = ValidityWindow(starts.astimezone(timezone(timedelta(hours=9))), ends)

    added = await store.coupons.add(NewCoupon("Spring sale", 50, window))
    found = await store.coupons.get(added.id)

    assert found is not None
    assert (found.name, found.total_quantity, found.issued_quantity) == ("Spring sale", 50, 0)
    assert found.window.starts_at == starts
    assert found.window.ends_at == ends
    assert found.created_at.tzinfo is not None
    assert abs(found.created_at - added.created_at) < timedelta(milliseconds=1)


async def test_an_open_window_reads_back_open(store: Store) -> None:
    added = await coupon_of(store)

    found = await store.coupons.get(added.id)

    assert found is not None
    assert found.window == ValidityWindow()


async def test_a_missing_coupon_reads_as_none(store: Store) -> None:
    assert await store.coupons.get(987_654) is None


async def test_deleting_a_coupon_removes_its_issued_rows_and_nothing_else(store: Store) -> None:
    doomed, kept = await coupon_of(store), await coupon_of(store)
    await store.issued.persist_capped([issued(doomed.id, 1), issued(doomed.id, 2), issued(kept.id, 1)])

    assert await store.coupons.delete(doomed.id) is True

    assert await store.coupons.get(doomed.id) is None
    assert await store.issued.count(doomed.id) == 0
    assert await store.issued.find(doomed.id, 1) is None
    assert await store.issued.user_ids(kept.id) == {1}
    assert await store.coupons.delete(doomed.id) is False


# --- the capped, idempotent batch --------------------------------------------------------------


async def test_a_batch_within_the_total_gets_one_row_per_event(store: Store) -> None:
    coupon = await coupon_of(store, total=10)
    batch = [issued(coupon.id, user) for user in (11, 12, 13)]

    result = await store.issued.persist_capped(batch)

    assert result == PersistResult(inserted=ids(*batch))
    assert await store.issued.user_ids(coupon.id) == {11, 12, 13}
    assert await store.issued.count(coupon.id) == 3
    assert await issued_quantity(store, coupon.id) == 3
    row = await store.issued.find(coupon.id, 12)
    assert row is not None
    assert (row.coupon_id, row.user_id, row.event_id) == (coupon.id, 12, batch[1].event_id)
    assert row.issued_at.tzinfo is not None


async def test_the_same_batch_twice_adds_no_rows_and_reports_every_event_a_duplicate(store: Store) -> None:
    coupon = await coupon_of(store, total=10)
    batch = [issued(coupon.id, user) for user in (1, 2, 3, 4)]
    await store.issued.persist_capped(batch)

    again = await store.issued.persist_capped(batch)

    assert again == PersistResult(duplicates=ids(*batch))
    assert await store.issued.count(coupon.id) == 4
    assert await issued_quantity(store, coupon.id) == 4


async def test_a_batch_larger_than_what_is_left_fills_exactly_to_the_total(store: Store) -> None:
    coupon = await coupon_of(store, total=10)
    await store.issued.persist_capped([issued(coupon.id, user) for user in (1, 2, 3)])
    batch = [issued(coupon.id, user) for user in range(100, 112)]

    result = await store.issued.persist_capped(batch)

    assert result.inserted == ids(*batch[:7])
    assert result.over_cap == ids(*batch[7:])
    assert await store.issued.count(coupon.id) == 10
    assert await issued_quantity(store, coupon.id) == 10


async def test_a_sold_out_coupon_refuses_new_users_but_still_recognises_old_ones(store: Store) -> None:
    coupon = await coupon_of(store, total=2)
    first = [issued(coupon.id, 1), issued(coupon.id, 2)]
    await store.issued.persist_capped(first)
    late, redelivered = issued(coupon.id, 3), issued(coupon.id, 1)

    result = await store.issued.persist_capped([late, redelivered])

    assert result == PersistResult(duplicates=ids(redelivered), over_cap=ids(late))
    assert await store.issued.user_ids(coupon.id) == {1, 2}


async def test_events_for_an_unknown_coupon_are_reported_and_store_nothing(store: Store) -> None:
    coupon = await coupon_of(store, total=5)
    known, stranger = issued(coupon.id, 1), issued(424_242, 1)

    result = await store.issued.persist_capped([stranger, known])

    assert result == PersistResult(inserted=ids(known), unknown_coupon=ids(stranger))
    assert await store.issued.count(424_242) == 0


async def test_a_user_repeated_within_one_batch_gets_one_row(store: Store) -> None:
    coupon = await coupon_of(store, total=10)
    first, other_event_same_user, neighbour = issued(coupon.id, 7), issued(coupon.id, 7), issued(coupon.id, 8)

    result = await store.issued.persist_capped([first, other_event_same_user, neighbour, first])

    assert result.inserted == ids(first, neighbour)
    assert sorted(result.duplicates) == sorted(ids(other_event_same_user, first))
    assert await store.issued.count(coupon.id) == 2
    assert await issued_quantity(store, coupon.id) == 2
    row = await store.issued.find(coupon.id, 7)
    assert row is not None
    assert row.event_id == first.event_id


async def test_a_batch_over_several_coupons_caps_each_one_on_its_own(store: Store) -> None:
    small, large = await coupon_of(store, total=2), await coupon_of(store, total=100)
    batch = [issued(coupon_id, user) for user in range(1, 6) for coupon_id in (large.id, small.id)]

    result = await store.issued.persist_capped(batch)

    assert outcome_count(result) == len(batch)
    assert sorted(result.inserted + result.over_cap) == sorted(ids(*batch))
    assert len(result.over_cap) == 3
    assert await store.issued.user_ids(small.id) == {1, 2}
    assert await store.issued.user_ids(large.id) == {1, 2, 3, 4, 5}
    assert (await issued_quantity(store, small.id), await issued_quantity(store, large.id)) == (2, 5)


async def test_an_empty_batch_is_a_no_op(store: Store) -> None:
    assert await store.issued.persist_capped([]) == PersistResult()


# --- the unit of work ---------------------------------------------------------------------------


async def test_reserving_slots_stops_at_the_total(store: Store) -> None:
    coupon = await coupon_of(store, total=3)
    granted = []
    for _ in range(5):
        async with store.uow.begin() as tx:
            granted.append(await tx.reserve_slot(coupon.id))
            await tx.commit()

    assert granted == [True, True, True, False, False]
    assert await issued_quantity(store, coupon.id) == 3


async def test_reserving_a_slot_of_an_unknown_coupon_is_refused(store: Store) -> None:
    async with store.uow.begin() as tx:
        assert await tx.reserve_slot(31_337) is False
        assert await tx.coupon(31_337, for_update=True) is None


async def test_adding_a_taken_user_returns_none_and_the_transaction_still_commits(store: Store) -> None:
    coupon = await coupon_of(store, total=10)
    await store.issued.persist_capped([issued(coupon.id, 1)])

    async with store.uow.begin() as tx:
        assert await tx.add_issued(coupon.id, 1) is None
        added = await tx.add_issued(coupon.id, 2, "e-2")
        assert added is not None
        assert (added.coupon_id, added.user_id, added.event_id) == (coupon.id, 2, "e-2")
        await tx.add_to_issued_quantity(coupon.id, 1)
        await tx.commit()

    assert await store.issued.user_ids(coupon.id) == {1, 2}
    assert await issued_quantity(store, coupon.id) == 2
    row = await store.issued.find(coupon.id, 2)
    assert row is not None
    assert row.event_id == "e-2"


async def test_a_transaction_that_raises_leaves_no_trace(store: Store) -> None:
    coupon = await coupon_of(store, total=10)

    async def fail_midway() -> None:
        async with store.uow.begin() as tx:
            assert await tx.reserve_slot(coupon.id)
            assert await tx.add_issued(coupon.id, 1) is not None
            await tx.add_to_issued_quantity(coupon.id, 5)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()

    assert await store.issued.count(coupon.id) == 0
    assert await issued_quantity(store, coupon.id) == 0


async def test_a_transaction_left_without_commit_is_rolled_back(store: Store) -> None:
    coupon = await coupon_of(store, total=10)

    async with store.uow.begin() as tx:
        assert await tx.reserve_slot(coupon.id)
        assert await tx.add_issued(coupon.id, 1) is not None

    assert await store.issued.count(coupon.id) == 0
    assert await issued_quantity(store, coupon.id) == 0


async def test_the_transaction_reads_what_is_committed(store: Store) -> None:
    coupon = await coupon_of(store, total=4)
    await store.issued.persist_capped([issued(coupon.id, 1), issued(coupon.id, 2)])

    async with store.uow.begin() as tx:
        locked = await tx.coupon(coupon.id, for_update=True)
        assert locked is not None
        assert (locked.total_quantity, locked.issued_quantity) == (4, 2)
        assert await tx.count_issued(coupon.id) == 2
        assert await tx.has_issued(coupon.id, 2) is True
        assert await tx.has_issued(coupon.id, 3) is False


async def test_the_unconditional_increment_can_pass_the_total(store: Store) -> None:
    """What the unsafe strategies do: nothing in the store stops them."""
    coupon = await coupon_of(store, total=1)

    async with store.uow.begin() as tx:
        await tx.add_to_issued_quantity(coupon.id, 3)
        await tx.commit()

    assert await issued_quantity(store, coupon.id) == 3
