"""Pause, resume, close and top-up on the in-memory twins: every strategy family obeys the coupon's state.

Asserted on observable state only: the answers, the rows in the memory database and the
stock and users in the memory gate.
"""

from __future__ import annotations

import asyncio

import pytest

from fcfs.adapters.memory.controls import MemoryCouponControls
from fcfs.domain.coupon_state import CouponState, StateMark
from fcfs.domain.errors import CouponClosed, CouponNotFound, InvalidInput, IssuancePaused
from fcfs.domain.issuance import GateVerdict, IssueCommand, IssueStatus
from fcfs.domain.use_cases import CloseIssuance, LoadStock, PauseIssuance, ResumeIssuance, TopUpStock
from fcfs.ports.strategy import IssueStrategy
from tests.support.memory_world import MemoryWorld, build
from tests.support.strategy_names import GATED, SQL_SAFE, UNSAFE

EVERY_STRATEGY = [*SQL_SAFE, *GATED, *UNSAFE]


class Controls:
    """The four live controls over one memory world, wired as the container wires them."""

    def __init__(self, world: MemoryWorld) -> None:
        self.world = world
        rows = MemoryCouponControls(world.db)
        self.pause = PauseIssuance(rows, world.gate)
        self.resume = ResumeIssuance(rows, world.gate)
        self.close = CloseIssuance(rows, world.gate)
        self.top_up = TopUpStock(world.coupons, rows, world.gate)
        self.load = LoadStock(world.coupons, world.issued, world.gate)


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


@pytest.fixture(params=EVERY_STRATEGY)
def strategy(request: pytest.FixtureRequest, world: MemoryWorld) -> IssueStrategy:
    """Each strategy in turn, over this test's memory world."""
    return build(request.param, world)


@pytest.fixture
def controls(world: MemoryWorld) -> Controls:
    return Controls(world)


async def persisted(world: MemoryWorld) -> int:
    await world.drain_published()
    return sum(len(world.rows(coupon_id)) for coupon_id in world.db.coupons)


async def test_a_paused_coupon_refuses_every_attempt_and_consumes_nothing(
    world: MemoryWorld, controls: Controls, strategy: IssueStrategy
) -> None:
    coupon = await world.coupon(total=5)
    assert (await strategy.issue(IssueCommand(coupon.id, 1))).status.granted
    rows_before, stock_before = await persisted(world), await world.gate.remaining(coupon.id)

    paused = await controls.pause.execute(coupon.id)

    assert paused.state is CouponState.PAUSED
    for user in (2, 3, 1):
        with pytest.raises(IssuancePaused):
            await strategy.issue(IssueCommand(coupon.id, user))
    assert await persisted(world) == rows_before
    assert await world.gate.remaining(coupon.id) == stock_before
    assert world.stored(coupon.id).issued_quantity == rows_before


async def test_a_resumed_coupon_admits_again(world: MemoryWorld, controls: Controls, strategy: IssueStrategy) -> None:
    coupon = await world.coupon(total=5)
    await controls.pause.execute(coupon.id)
    resumed = await controls.resume.execute(coupon.id)
    assert resumed.state is CouponState.OPEN
    assert (await strategy.issue(IssueCommand(coupon.id, 7))).status.granted
    assert await persisted(world) == 1


async def test_a_closed_coupon_answers_not_open_and_consumes_nothing(
    world: MemoryWorld, controls: Controls, strategy: IssueStrategy
) -> None:
    coupon = await world.coupon(total=5)
    await controls.close.execute(coupon.id)
    outcome = await strategy.issue(IssueCommand(coupon.id, 1))
    assert outcome.status is IssueStatus.NOT_OPEN
    assert await persisted(world) == 0
    assert await world.gate.remaining(coupon.id) == 5


async def test_events_accepted_before_the_close_are_still_persisted(world: MemoryWorld, controls: Controls) -> None:
    strategy = build("lua-async", world)
    coupon = await world.coupon(total=5)
    accepted = [await strategy.issue(IssueCommand(coupon.id, user)) for user in (1, 2)]
    assert all(outcome.status is IssueStatus.ACCEPTED for outcome in accepted)
    await controls.close.execute(coupon.id)
    assert await persisted(world) == 2


async def test_closing_is_final(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=1)
    await controls.close.execute(coupon.id)
    with pytest.raises(CouponClosed):
        await controls.resume.execute(coupon.id)
    with pytest.raises(CouponClosed):
        await controls.pause.execute(coupon.id)
    assert (await controls.close.execute(coupon.id)).state is CouponState.CLOSED
    assert world.stored(coupon.id).state is CouponState.CLOSED


async def test_pausing_twice_changes_nothing_the_second_time(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=1)
    first = await controls.pause.execute(coupon.id)
    second = await controls.pause.execute(coupon.id)
    assert (second.state, second.version) == (first.state, first.version)


async def test_a_control_on_a_missing_coupon_is_not_found(controls: Controls) -> None:
    with pytest.raises(CouponNotFound):
        await controls.pause.execute(404)


async def test_the_gate_keeps_the_newest_mirror_whatever_the_arrival_order(world: MemoryWorld) -> None:
    coupon = await world.coupon(total=3)
    await world.gate.mirror_state(coupon.id, StateMark(CouponState.OPEN, 2))
    await world.gate.mirror_state(coupon.id, StateMark(CouponState.PAUSED, 1))  # a pause overtaken by its resume
    assert await world.gate.try_issue(coupon.id, 1) is GateVerdict.ISSUED


async def test_stock_loaded_into_an_emptied_gate_carries_the_pause(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=3)
    await controls.pause.execute(coupon.id)
    world.gate.lose_state()  # Redis restarted empty
    await controls.load.execute(coupon.id)
    assert await world.gate.try_issue(coupon.id, 1) is GateVerdict.PAUSED


async def test_top_up_raises_the_total_and_the_loaded_stock_by_the_same_units(
    controls: Controls, world: MemoryWorld
) -> None:
    strategy = build("lua", world)
    coupon = await world.coupon(total=2)
    for user in (1, 2):
        await strategy.issue(IssueCommand(coupon.id, user))
    assert (await strategy.issue(IssueCommand(coupon.id, 3))).status is IssueStatus.SOLD_OUT

    topped = await controls.top_up.execute(coupon.id, add=3)

    assert (topped.total_quantity, topped.added, topped.stock) == (5, 3, 3)
    outcomes = [await strategy.issue(IssueCommand(coupon.id, user)) for user in range(3, 10)]
    assert [outcome.status for outcome in outcomes].count(IssueStatus.ISSUED) == 3
    assert len(world.rows(coupon.id)) == 5 == world.stored(coupon.id).total_quantity


@pytest.mark.parametrize("name", SQL_SAFE)
async def test_top_up_gives_database_strategies_the_added_units(
    controls: Controls, world: MemoryWorld, name: str
) -> None:
    strategy = build(name, world)
    coupon = await world.coupon(total=1, load=False)
    assert (await strategy.issue(IssueCommand(coupon.id, 1))).status is IssueStatus.ISSUED
    await controls.top_up.execute(coupon.id, total_quantity=3)
    outcomes = [await strategy.issue(IssueCommand(coupon.id, user)) for user in range(2, 6)]
    assert [outcome.status for outcome in outcomes].count(IssueStatus.ISSUED) == 2
    assert len(world.rows(coupon.id)) <= world.stored(coupon.id).total_quantity


async def test_top_up_never_lowers_the_total(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=4)
    with pytest.raises(InvalidInput):
        await controls.top_up.execute(coupon.id, total_quantity=3)
    with pytest.raises(InvalidInput):
        await controls.top_up.execute(coupon.id, add=0)
    with pytest.raises(InvalidInput):
        await controls.top_up.execute(coupon.id, add=1, total_quantity=5)
    assert world.stored(coupon.id).total_quantity == 4
    assert await world.gate.remaining(coupon.id) == 4


async def test_top_up_before_loading_leaves_the_gate_for_the_load(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=2, load=False)
    topped = await controls.top_up.execute(coupon.id, add=5)
    assert topped.stock is None
    assert await world.gate.remaining(coupon.id) is None
    assert (await controls.load.execute(coupon.id)).stock == 7


async def test_concurrent_top_ups_each_add_their_units_once(controls: Controls, world: MemoryWorld) -> None:
    coupon = await world.coupon(total=10)
    await asyncio.gather(*(controls.top_up.execute(coupon.id, add=1) for _ in range(4)))
    assert world.stored(coupon.id).total_quantity == 14
    assert await world.gate.remaining(coupon.id) == 14
