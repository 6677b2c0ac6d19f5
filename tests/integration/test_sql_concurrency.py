"""Races against real databases: the cap and the unique key hold however writers interleave.

MariaDB serialises writers on the coupon's row lock; SQLite on its single write lock,
taken as each write transaction begins, in this process and in any other sharing the file.
"""

from __future__ import annotations

import asyncio
import random
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fcfs.domain.issuance import PersistResult
from tests.support.stores import Store, coupon_of, issued, issued_quantity, open_store, opened_store, sqlite_url

TOTAL = 100


@pytest.fixture(params=["mariadb", "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return request.getfixturevalue("database_url") if request.param == "mariadb" else sqlite_url(tmp_path)


PRODUCTION_POOL = {"pool_size": 20, "max_overflow": 0, "pool_timeout": 120.0}


@pytest.fixture
async def db_store(db_url: str) -> AsyncIterator[Store]:
    """A database store with a pool like production's (20 connections, no overflow)."""
    async with opened_store(db_url, **PRODUCTION_POOL) as opened:
        yield opened


@pytest.fixture
async def mariadb_store(database_url: str) -> AsyncIterator[Store]:
    async with opened_store(database_url, **PRODUCTION_POOL) as opened:
        yield opened


def racers(db_store: Store) -> int:
    """2,000 on MariaDB (the brief's size); fewer on SQLite, whose writers queue on one lock."""
    assert db_store.engine is not None
    return 2_000 if db_store.engine.dialect.name != "sqlite" else 500


async def assert_exactly_total(store: Store, coupon_id: int, results: list[PersistResult], total: int) -> None:
    inserted = [event_id for result in results for event_id in result.inserted]
    assert len(inserted) == total
    assert len(set(inserted)) == total
    assert await store.issued.count(coupon_id) == total
    assert len(await store.issued.user_ids(coupon_id)) == total
    assert await issued_quantity(store, coupon_id) == total


async def test_concurrent_single_event_batches_never_pass_the_total(db_store: Store) -> None:
    coupon = await coupon_of(db_store, total=TOTAL)
    n = racers(db_store)
    distinct = [issued(coupon.id, user) for user in range(1, n * 3 // 4 + 1)]
    repeats = [issued(coupon.id, random.choice(distinct).user_id) for _ in range(n - len(distinct))]
    redelivered = random.sample(distinct, 50)
    events = distinct + repeats + redelivered
    random.shuffle(events)

    results = await asyncio.gather(*(db_store.issued.persist_capped([event]) for event in events))

    await assert_exactly_total(db_store, coupon.id, results, TOTAL)
    assert all(sum(map(len, (r.inserted, r.duplicates, r.over_cap, r.unknown_coupon))) == 1 for r in results)
    assert not any(result.unknown_coupon for result in results)


async def test_concurrent_overlapping_batches_never_pass_the_total(db_store: Store) -> None:
    coupon = await coupon_of(db_store, total=TOTAL)
    pool = [issued(coupon.id, user) for user in range(1, 2_251)]
    batches = [pool[i * 250 : i * 250 + 500] for i in range(8)]  # each shares half its events with the next
    for batch in batches:
        random.shuffle(batch)

    results = await asyncio.gather(*(db_store.issued.persist_capped(batch) for batch in batches))

    await assert_exactly_total(db_store, coupon.id, results, TOTAL)
    for batch, result in zip(batches, results, strict=True):
        assert sorted(result.inserted + result.duplicates + result.over_cap) == sorted(e.event_id for e in batch)


async def test_concurrent_locked_check_then_insert_never_passes_the_total(db_store: Store) -> None:
    """The pessimistic-lock shape: lock, check user and count, insert, count up, commit."""
    coupon = await coupon_of(db_store, total=TOTAL)

    async def attempt(user_id: int) -> bool:
        async with db_store.uow.begin() as tx:
            locked = await tx.coupon(coupon.id, for_update=True)
            assert locked is not None
            if await tx.has_issued(coupon.id, user_id) or locked.issued_quantity >= locked.total_quantity:
                return False
            assert await tx.add_issued(coupon.id, user_id) is not None
            await tx.add_to_issued_quantity(coupon.id, 1)
            await tx.commit()
            return True

    users = [random.randint(1, 250) for _ in range(400)]
    granted = await asyncio.gather(*(attempt(user) for user in users))

    assert granted.count(True) == TOTAL
    assert await db_store.issued.count(coupon.id) == TOTAL
    assert await issued_quantity(db_store, coupon.id) == TOTAL


async def test_concurrent_slot_reservations_never_pass_the_total(db_store: Store) -> None:
    """The atomic-query shape: the conditional UPDATE decides, then the row is inserted."""
    coupon = await coupon_of(db_store, total=TOTAL)

    async def attempt(user_id: int) -> bool:
        async with db_store.uow.begin() as tx:
            if not await tx.reserve_slot(coupon.id):
                return False
            assert await tx.add_issued(coupon.id, user_id) is not None
            await tx.commit()
            return True

    granted = await asyncio.gather(*(attempt(user) for user in range(1, 401)))

    assert granted.count(True) == TOTAL
    assert await db_store.issued.count(coupon.id) == TOTAL
    assert await issued_quantity(db_store, coupon.id) == TOTAL


async def test_a_row_lock_holds_other_lockers_until_commit(mariadb_store: Store) -> None:
    coupon = await coupon_of(mariadb_store, total=5)
    order: list[str] = []

    async def second_locker() -> int:
        async with mariadb_store.uow.begin() as tx:
            locked = await tx.coupon(coupon.id, for_update=True)
            order.append("second locked")
            assert locked is not None
            return locked.issued_quantity

    async with mariadb_store.uow.begin() as tx:
        assert await tx.coupon(coupon.id, for_update=True) is not None
        waiting = asyncio.create_task(second_locker())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        assert await tx.reserve_slot(coupon.id)
        order.append("first committed")
        await tx.commit()

    assert await waiting == 1
    assert order == ["first committed", "second locked"]


SQLITE_WORKER = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from datetime import UTC, datetime
    from fcfs.adapters.sql.engine import create_engine
    from fcfs.adapters.sql.repositories import SqlIssuedCouponRepository
    from fcfs.adapters.sql.uow import SqlUnitOfWork
    from fcfs.domain.events import CouponIssued

    async def unlocked_check_then_insert(uow, coupon_id, user_id):
        async with uow.begin() as tx:
            if await tx.count_issued(coupon_id) >= int(sys.argv[5]):
                return
            if await tx.add_issued(coupon_id, user_id) is not None:
                await tx.add_to_issued_quantity(coupon_id, 1)
            await tx.commit()

    async def main():
        url, coupon_id, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        engine = create_engine(url, pool_size=8, max_overflow=0, pool_timeout=120.0)
        issued, uow = SqlIssuedCouponRepository(engine), SqlUnitOfWork(engine)
        jobs = []
        for user in range(first, last):
            event = CouponIssued(str(uuid.uuid4()), coupon_id, user, datetime.now(UTC))
            jobs.append(issued.persist_capped([event]))
            jobs.append(unlocked_check_then_insert(uow, coupon_id + 1, user))
        await asyncio.gather(*jobs)
        await engine.dispose()

    asyncio.run(main())
    """
)


async def test_processes_sharing_a_sqlite_file_take_turns(tmp_path: Path) -> None:
    """Three processes race on one file: the capped batch and an unlocked check-then-insert both hold."""
    url = sqlite_url(tmp_path)
    store = await open_store(url)
    try:
        capped, unlocked = await coupon_of(store, total=60), await coupon_of(store, total=60)
        assert unlocked.id == capped.id + 1
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", SQLITE_WORKER, url, str(capped.id), str(first), str(first + 60), "60"
            )
            for first in (1, 31, 61)  # each process shares half its users with the next
        ]
        assert [await worker.wait() for worker in workers] == [0, 0, 0]

        for coupon_id in (capped.id, unlocked.id):
            assert await store.issued.count(coupon_id) == 60
            assert len(await store.issued.user_ids(coupon_id)) == 60
            assert await issued_quantity(store, coupon_id) == 60
    finally:
        assert store.engine is not None
        await store.engine.dispose()
