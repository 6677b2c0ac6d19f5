"""Both memory twins keep the unique key and the row lock the way InnoDB does for open transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fcfs.adapters.memory.innodb import InnoDbUnitOfWork
from fcfs.adapters.memory.store import MemoryCouponRepository, MemoryDatabase, MemoryUnitOfWork
from fcfs.domain.coupon import IssuedCoupon, NewCoupon
from fcfs.ports.repositories import UnitOfWork

Twin = Callable[[MemoryDatabase], UnitOfWork]


@pytest.fixture(params=[MemoryUnitOfWork, InnoDbUnitOfWork], ids=["memory", "innodb-twin"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return request.param  # type: ignore[no-any-return]


async def setup(twin: Twin, total: int = 5) -> tuple[MemoryDatabase, UnitOfWork, int]:
    db = MemoryDatabase()
    coupon = await MemoryCouponRepository(db).add(NewCoupon("c", total))
    return db, twin(db), coupon.id


async def insert_once_set(started: asyncio.Event, uow: UnitOfWork, coupon_id: int) -> IssuedCoupon | None:
    """User 1's insert, committed, begun only once `started` is set (so another transaction got there first)."""
    await started.wait()
    async with uow.begin() as tx:
        row = await tx.add_issued(coupon_id, 1)
        await tx.commit()
        return row


async def test_an_insert_waits_for_the_open_transaction_holding_its_key_and_then_sees_its_row(twin: Twin) -> None:
    db, uow, coupon_id = await setup(twin)
    first_inserted = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with uow.begin() as tx:
            assert await tx.add_issued(coupon_id, 1) is not None
            first_inserted.set()
            await release_first.wait()
            await tx.commit()

    task_one = asyncio.create_task(first())
    task_two = asyncio.create_task(insert_once_set(first_inserted, uow, coupon_id))
    await asyncio.sleep(0.01)
    assert not task_two.done()  # waiting on the key, as InnoDB would
    release_first.set()
    await task_one
    assert await task_two is None
    assert len(db.issued) == 1


async def test_when_the_holder_rolls_back_the_waiting_insert_succeeds(twin: Twin) -> None:
    db, uow, coupon_id = await setup(twin)
    inserted = asyncio.Event()

    async def holder() -> None:
        async with uow.begin() as tx:
            await tx.add_issued(coupon_id, 1)
            inserted.set()
            await asyncio.sleep(0.01)  # leaves without commit: rolled back

    _, row = await asyncio.gather(holder(), insert_once_set(inserted, uow, coupon_id))
    assert row is not None
    assert list(db.issued) == [(coupon_id, 1)]


async def test_the_conditional_increment_holds_the_row_until_the_transaction_ends(twin: Twin) -> None:
    db, uow, coupon_id = await setup(twin, total=1)
    order: list[str] = []

    async def reserve(name: str, hold: float) -> bool:
        async with uow.begin() as tx:
            taken = await tx.reserve_slot(coupon_id)
            order.append(f"{name}:{taken}")
            await asyncio.sleep(hold)
            if name == "a":
                return taken  # rolled back: the unit returns
            await tx.commit()
            return taken

    results = await asyncio.gather(reserve("a", 0.02), reserve("b", 0))
    assert order == ["a:True", "b:True"]  # b waited for a's rollback, then took the unit
    assert results == [True, True]
    assert db.coupons[coupon_id].issued_quantity == 1
