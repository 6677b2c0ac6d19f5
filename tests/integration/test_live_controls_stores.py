"""The live controls' ports on real stores and their twins: the coupon row's state and total, the gate's mirror.

Gate: the Lua scripts (`issue.lua`, `issue_many.lua`, `load_stock.lua`, `mirror_state.lua`,
`add_stock.lua`) against the in-memory twin. Database: conditional updates on MariaDB,
SQLite and the twin, and the SQL strategies' in-transaction check on MariaDB's row locks.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from fcfs.adapters.memory.controls import MemoryCouponControls
from fcfs.adapters.redis.client import RedisClient
from fcfs.adapters.redis.gate import RedisIssuanceGate
from fcfs.adapters.sql.controls import SqlCouponControls
from fcfs.domain.coupon_state import CouponState, StateMark, reachable_from
from fcfs.domain.errors import IssuancePaused
from fcfs.domain.issuance import GateVerdict, IssueCommand, IssueStatus
from fcfs.ports.controls import CouponControls
from fcfs.strategies.pessimistic_lock import PessimisticLockStrategy
from tests.support.gates import GATE_KINDS, Gate, gate_of_kind
from tests.support.memory_world import MemoryWorld
from tests.support.stores import MEMORY, Store, coupon_of, opened_store, sqlite_url

COUPON = 11


@pytest.fixture(params=GATE_KINDS)
def gate(request: pytest.FixtureRequest) -> Gate:
    return gate_of_kind(request)


async def test_a_paused_gate_refuses_every_attempt_and_takes_nothing(gate: Gate) -> None:
    await gate.load_stock(COUPON, 3, {1})
    await gate.mirror_state(COUPON, StateMark(CouponState.PAUSED, 1))
    verdicts = await asyncio.gather(*(gate.try_issue(COUPON, user) for user in range(1, 20)))
    assert set(verdicts) == {GateVerdict.PAUSED}
    assert (await gate.remaining(COUPON), await gate.users(COUPON)) == (3, {1})
    await gate.mirror_state(COUPON, StateMark(CouponState.OPEN, 2))
    assert await gate.try_issue(COUPON, 2) is GateVerdict.ISSUED


async def test_a_closed_gate_answers_closed_even_when_not_loaded(gate: Gate) -> None:
    await gate.mirror_state(COUPON, StateMark(CouponState.CLOSED, 3))
    assert await gate.try_issue(COUPON, 1) is GateVerdict.CLOSED


async def test_an_older_mirror_never_replaces_a_newer_one(gate: Gate) -> None:
    await gate.load_stock(COUPON, 3, set())
    await gate.mirror_state(COUPON, StateMark(CouponState.PAUSED, 5))
    await gate.mirror_state(COUPON, StateMark(CouponState.OPEN, 4))
    await gate.load_stock(COUPON, 3, set(), StateMark(CouponState.OPEN, 4))
    assert await gate.try_issue(COUPON, 1) is GateVerdict.PAUSED


async def test_loading_stock_into_an_empty_gate_carries_the_state(gate: Gate) -> None:
    await gate.load_stock(COUPON, 3, set(), StateMark(CouponState.PAUSED, 1))
    assert await gate.try_issue(COUPON, 1) is GateVerdict.PAUSED


async def test_add_stock_raises_a_loaded_stock_and_creates_none(gate: Gate) -> None:
    assert await gate.add_stock(COUPON, 4) is None
    assert await gate.remaining(COUPON) is None
    await gate.load_stock(COUPON, 1, {9})
    assert await gate.add_stock(COUPON, 4) == 5
    assert (await gate.remaining(COUPON), await gate.users(COUPON)) == (5, {9})


async def test_forget_drops_the_state_too(
    adapter_redis: RedisClient, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    gate = RedisIssuanceGate(adapter_redis, redis_prefix)
    await gate.load_stock(COUPON, 1, set(), StateMark(CouponState.PAUSED, 1))
    assert await redis_client.hgetall(f"{redis_prefix}:{{c:{COUPON}}}:state") == {"state": "paused", "version": "1"}
    await gate.forget(COUPON)
    assert not [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]


@pytest.fixture(params=["mariadb", "sqlite", "memory"])
def backend_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "mariadb":
        return str(request.getfixturevalue("database_url"))
    return sqlite_url(tmp_path) if request.param == "sqlite" else MEMORY


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[tuple[Store, CouponControls]]:
    async with opened_store(backend_url, pool_size=5) as opened:
        if opened.engine is None:
            db = opened.coupons._db  # type: ignore[attr-defined]  # the twin's database, shared with its controls
            yield opened, MemoryCouponControls(db)
        else:
            yield opened, SqlCouponControls(opened.engine)


async def test_state_changes_bump_the_version_and_closing_is_final(store: tuple[Store, CouponControls]) -> None:
    opened, controls = store
    coupon = await coupon_of(opened)
    paused = await controls.change_state(coupon.id, CouponState.PAUSED, reachable_from(CouponState.PAUSED))
    assert paused == StateMark(CouponState.PAUSED, 1)
    again = await controls.change_state(coupon.id, CouponState.PAUSED, reachable_from(CouponState.PAUSED))
    assert again == paused
    closed = await controls.change_state(coupon.id, CouponState.CLOSED, reachable_from(CouponState.CLOSED))
    assert closed == StateMark(CouponState.CLOSED, 2)
    refused = await controls.change_state(coupon.id, CouponState.OPEN, reachable_from(CouponState.OPEN))
    assert refused == closed
    stored = await opened.coupons.get(coupon.id)
    assert stored is not None
    assert (stored.state, stored.state_version) == (CouponState.CLOSED, 2)
    assert await controls.change_state(999_999, CouponState.PAUSED, reachable_from(CouponState.PAUSED)) is None


async def test_raise_total_is_a_compare_and_set(store: tuple[Store, CouponControls]) -> None:
    opened, controls = store
    coupon = await coupon_of(opened, total=10)
    assert await controls.raise_total(coupon.id, 10, 15)
    assert not await controls.raise_total(coupon.id, 10, 20)
    stored = await opened.coupons.get(coupon.id)
    assert stored is not None
    assert stored.total_quantity == 15


async def test_a_pause_waits_for_the_row_locked_attempt_and_the_next_attempt_sees_it(database_url: str) -> None:
    """pessimistic-lock on MariaDB: the pause's UPDATE queues behind the row lock; once it returns, attempts refuse."""
    async with opened_store(database_url, pool_size=5) as opened:
        assert opened.engine is not None
        controls = SqlCouponControls(opened.engine)
        coupon = await coupon_of(opened, total=5)
        strategy = PessimisticLockStrategy(dataclasses.replace(MemoryWorld().kit, uow=opened.uow))
        async with opened.uow.begin() as tx:  # an attempt holding the coupon's row lock
            await tx.coupon(coupon.id, for_update=True)
            pausing = asyncio.create_task(
                controls.change_state(coupon.id, CouponState.PAUSED, reachable_from(CouponState.PAUSED))
            )
            await asyncio.sleep(0.2)
            assert not pausing.done()  # behind the row lock
            await tx.commit()
        assert await pausing == StateMark(CouponState.PAUSED, 1)
        with pytest.raises(IssuancePaused):
            await strategy.issue(IssueCommand(coupon.id, 1))
        await controls.change_state(coupon.id, CouponState.OPEN, reachable_from(CouponState.OPEN))
        assert (await strategy.issue(IssueCommand(coupon.id, 1))).status is IssueStatus.ISSUED
