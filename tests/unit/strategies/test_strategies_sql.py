"""The SQL-coordinated strategies one attempt at a time: answers, rows and what a failure leaves."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from fcfs.adapters.memory.locks import ProcessSemaphore, TimedProcessLock
from fcfs.domain.errors import CouponNotFound, StorageError, WaitTimedOut
from fcfs.domain.issuance import IssueCommand, IssueStatus
from tests.support.memory_world import MemoryWorld, build
from tests.support.strategy_names import SQL_SAFE, UNSAFE

SQL_STRATEGIES = [*UNSAFE, *SQL_SAFE]
LOCKED = [  # strategy, the kit's lock it waits for
    ("reentrant-lock", "timed_lock"),
    ("distributed-lock", "distributed_lock"),
    ("spin-lock", "spin_lock"),
]


@pytest.mark.parametrize("name", SQL_STRATEGIES)
async def test_first_request_is_issued_with_its_row(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(3)

    outcome = await build(name, world).issue(IssueCommand(coupon.id, 42))

    assert outcome.status is IssueStatus.ISSUED
    assert [row.user_id for row in world.rows(coupon.id)] == [42]
    assert world.stored(coupon.id).issued_quantity == 1


@pytest.mark.parametrize("name", SQL_STRATEGIES)
async def test_second_request_from_same_user_is_refused(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(3)
    strategy = build(name, world)
    await strategy.issue(IssueCommand(coupon.id, 42))

    outcome = await strategy.issue(IssueCommand(coupon.id, 42))

    assert outcome.status is IssueStatus.ALREADY_ISSUED
    assert len(world.rows(coupon.id)) == 1
    assert world.stored(coupon.id).issued_quantity == 1


@pytest.mark.parametrize("name", SQL_STRATEGIES)
async def test_request_after_the_total_is_sold_out(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(2)
    strategy = build(name, world)
    for user in (1, 2):
        await strategy.issue(IssueCommand(coupon.id, user))

    outcome = await strategy.issue(IssueCommand(coupon.id, 3))

    assert outcome.status is IssueStatus.SOLD_OUT
    assert sorted(row.user_id for row in world.rows(coupon.id)) == [1, 2]


@pytest.mark.parametrize("name", SQL_STRATEGIES)
async def test_unknown_coupon_is_not_found(name: str, world: MemoryWorld) -> None:
    with pytest.raises(CouponNotFound):
        await build(name, world).issue(IssueCommand(999, 1))


@pytest.mark.parametrize("name", SQL_STRATEGIES)
async def test_a_failed_commit_leaves_no_row_and_no_count(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    world.uow.failing_commits = 1

    with pytest.raises(StorageError):
        await build(name, world).issue(IssueCommand(coupon.id, 1))

    assert world.rows(coupon.id) == []
    assert world.stored(coupon.id).issued_quantity == 0


@pytest.mark.parametrize(("name", "lock"), LOCKED)
async def test_an_attempt_that_cannot_get_the_lock_in_time_times_out_and_writes_nothing(
    name: str, lock: str, world: MemoryWorld
) -> None:
    coupon = await world.coupon(1)
    impatient = TimedProcessLock(wait_seconds=0.01)
    world.kit = replace(world.kit, **{lock: impatient})  # type: ignore[arg-type]

    async with impatient.hold(f"coupon:{coupon.id}"):
        with pytest.raises(WaitTimedOut):
            await build(name, world).issue(IssueCommand(coupon.id, 1))

    assert world.rows(coupon.id) == []


async def test_semaphore_without_a_free_permit_times_out_and_writes_nothing(world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    permits = ProcessSemaphore(permits=1, wait_seconds=0.01)
    world.kit = replace(world.kit, db_permits=permits)

    async with permits.hold("someone else"):
        with pytest.raises(WaitTimedOut):
            await build("semaphore", world).issue(IssueCommand(coupon.id, 1))

    assert world.rows(coupon.id) == []


async def test_reentrant_lock_is_per_coupon(world: MemoryWorld) -> None:
    busy, free = await world.coupon(1), await world.coupon(1)
    impatient = TimedProcessLock(wait_seconds=0.01)
    world.kit = replace(world.kit, timed_lock=impatient)

    async with impatient.hold(f"coupon:{busy.id}"):
        outcome = await build("reentrant-lock", world).issue(IssueCommand(free.id, 1))

    assert outcome.status is IssueStatus.ISSUED


async def test_atomic_gives_a_repeat_requests_unit_back(world: MemoryWorld) -> None:
    coupon = await world.coupon(2)
    strategy = build("atomic", world)
    await strategy.issue(IssueCommand(coupon.id, 1))
    await strategy.issue(IssueCommand(coupon.id, 1))

    outcome = await strategy.issue(IssueCommand(coupon.id, 2))

    assert outcome.status is IssueStatus.ISSUED
    assert len(world.rows(coupon.id)) == 2


async def test_atomic_gives_a_failed_attempts_unit_back(world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    strategy = build("atomic", world)
    world.uow.failing_commits = 1
    with pytest.raises(StorageError):
        await strategy.issue(IssueCommand(coupon.id, 1))

    outcome = await strategy.issue(IssueCommand(coupon.id, 2))

    assert outcome.status is IssueStatus.ISSUED
    assert [row.user_id for row in world.rows(coupon.id)] == [2]


async def test_atomic_counts_rows_issued_before_the_process_started(world: MemoryWorld) -> None:
    coupon = await world.coupon(2)
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 1))
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 2))

    outcome = await build("atomic", world).issue(IssueCommand(coupon.id, 3))

    assert outcome.status is IssueStatus.SOLD_OUT
    assert len(world.rows(coupon.id)) == 2


@pytest.mark.parametrize("name", ["atomic", "atomic-query"])
async def test_simultaneous_repeats_get_one_row_and_leave_the_other_units(name: str) -> None:
    world = MemoryWorld(commit_turns=5)
    coupon = await world.coupon(2)
    strategy = build(name, world)

    outcomes = await asyncio.gather(*(strategy.issue(IssueCommand(coupon.id, 1)) for _ in range(5)))

    statuses = [outcome.status for outcome in outcomes]
    assert statuses.count(IssueStatus.ISSUED) == 1
    assert set(statuses) - {IssueStatus.ISSUED} <= {IssueStatus.ALREADY_ISSUED, IssueStatus.SOLD_OUT}
    assert world.stored(coupon.id).issued_quantity == 1
    assert (await strategy.issue(IssueCommand(coupon.id, 2))).status is IssueStatus.ISSUED
