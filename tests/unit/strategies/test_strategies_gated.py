"""lua and lua-async: the gate's verdicts, and what happens when making an admission durable fails."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from fcfs.adapters.memory.store import MemoryIssuedCouponRepository
from fcfs.domain.errors import CouponNotFound, PublishFailed, PublishOutcomeUnknown, StorageError, TemporaryFailure
from fcfs.domain.issuance import IssueCommand, IssueStatus, PersistResult
from tests.support.memory_world import NOW, MemoryWorld, build


class BrokenStore(MemoryIssuedCouponRepository):
    async def persist_capped(self, events: object) -> PersistResult:
        raise StorageError("database down (test double)")


async def gate_state(world: MemoryWorld, coupon_id: int) -> tuple[int | None, set[int]]:
    return await world.gate.remaining(coupon_id), await world.gate.users(coupon_id)


@pytest.mark.parametrize("name", ["lua", "lua-async"])
async def test_stock_never_loaded_is_an_outcome_not_an_error(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(5, load=False)

    outcome = await build(name, world).issue(IssueCommand(coupon.id, 1))

    assert outcome.status is IssueStatus.NOT_LOADED
    assert outcome.status.code.code == "C006"


@pytest.mark.parametrize("name", ["lua", "lua-async"])
async def test_gate_refusals_publish_and_persist_nothing(name: str, world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    strategy = build(name, world)
    await strategy.issue(IssueCommand(coupon.id, 1))
    await world.drain_published()

    again = await strategy.issue(IssueCommand(coupon.id, 1))
    late = await strategy.issue(IssueCommand(coupon.id, 2))

    assert (again.status, late.status) == (IssueStatus.ALREADY_ISSUED, IssueStatus.SOLD_OUT)
    assert world.publisher.published == []
    assert [row.user_id for row in world.rows(coupon.id)] == [1]


async def test_lua_persists_the_row_before_answering_issued(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)

    outcome = await build("lua", world).issue(IssueCommand(coupon.id, 7))

    (row,) = world.rows(coupon.id)
    assert outcome.status is IssueStatus.ISSUED
    assert (row.user_id, row.event_id) == (7, outcome.event_id)
    assert world.stored(coupon.id).issued_quantity == 1


async def test_lua_gives_the_admission_back_when_the_database_fails(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)
    world.kit = replace(world.kit, issued=BrokenStore(world.db))

    with pytest.raises(TemporaryFailure) as raised:
        await build("lua", world).issue(IssueCommand(coupon.id, 7))

    assert isinstance(raised.value.__cause__, StorageError)
    assert await gate_state(world, coupon.id) == (5, set())
    assert world.rows(coupon.id) == []


async def test_lua_gives_the_admission_back_when_the_database_cap_refuses_it(world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    await world.gate.load_stock(coupon.id, 3, set())  # the gate believes in more stock than exists
    strategy = build("lua", world)
    await strategy.issue(IssueCommand(coupon.id, 1))

    outcome = await strategy.issue(IssueCommand(coupon.id, 2))

    assert outcome.status is IssueStatus.SOLD_OUT
    assert await gate_state(world, coupon.id) == (2, {1})
    assert [row.user_id for row in world.rows(coupon.id)] == [1]


async def test_lua_gives_the_admission_back_when_the_coupon_is_gone(world: MemoryWorld) -> None:
    await world.gate.load_stock(404, 3, set())

    with pytest.raises(CouponNotFound):
        await build("lua", world).issue(IssueCommand(404, 1))

    assert await gate_state(world, 404) == (3, set())


async def test_lua_answers_already_issued_when_the_row_predates_the_gate(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 1))

    outcome = await build("lua", world).issue(IssueCommand(coupon.id, 1))

    assert outcome.status is IssueStatus.ALREADY_ISSUED
    assert len(world.rows(coupon.id)) == 1
    assert await world.gate.holds_user(coupon.id, 1)


async def test_lua_async_accepts_once_the_event_is_published(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)

    outcome = await build("lua-async", world).issue(IssueCommand(coupon.id, 7))

    (event,) = world.publisher.published
    assert outcome.status is IssueStatus.ACCEPTED
    assert outcome.status.code.http_status == 202
    assert (event.coupon_id, event.user_id, event.issued_at) == (coupon.id, 7, NOW)
    assert outcome.event_id == event.event_id
    assert uuid.UUID(event.event_id).version == 4
    assert world.rows(coupon.id) == []  # the consumer inserts it


async def test_lua_async_gives_the_admission_back_when_the_publish_certainly_failed(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)
    strategy = build("lua-async", world)
    await strategy.issue(IssueCommand(coupon.id, 1))
    before = await gate_state(world, coupon.id)
    world.publisher.fail_with = PublishFailed

    with pytest.raises(PublishFailed) as raised:
        await strategy.issue(IssueCommand(coupon.id, 2))

    assert raised.value.code.code == "S002"
    assert await gate_state(world, coupon.id) == before == (4, {1})
    assert [event.user_id for event in world.publisher.published] == [1]
    assert world.unconfirmed.events == {}


async def test_lua_async_keeps_the_admission_and_records_it_when_the_publish_outcome_is_unknown(
    world: MemoryWorld,
) -> None:
    coupon = await world.coupon(5)
    world.publisher.fail_with = PublishOutcomeUnknown

    outcome = await build("lua-async", world).issue(IssueCommand(coupon.id, 2))

    assert outcome.status is IssueStatus.ACCEPTED
    assert await gate_state(world, coupon.id) == (4, {2})
    (event,) = await world.unconfirmed.list(coupon.id)
    assert (event.event_id, event.user_id) == (outcome.event_id, 2)


async def test_lua_async_keeps_an_admission_it_can_neither_publish_nor_give_back(
    world: MemoryWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publish failed and the gate is unreachable: answer accepted and record it, never 'nothing issued'."""
    from fcfs.domain.errors import GateError

    coupon = await world.coupon(5)
    world.publisher.fail_with = PublishFailed

    async def unreachable(coupon_id: int, user_id: int) -> bool:
        raise GateError("redis down")

    monkeypatch.setattr(world.gate, "compensate", unreachable)
    outcome = await build("lua-async", world).issue(IssueCommand(coupon.id, 3))

    assert outcome.status is IssueStatus.ACCEPTED
    (event,) = await world.unconfirmed.list(coupon.id)
    assert (event.event_id, event.user_id) == (outcome.event_id, 3)
    assert await world.gate.holds_user(coupon.id, 3)
