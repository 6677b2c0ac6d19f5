"""Reconciliation (docs/design.md §6.7) on the in-memory twins: what it reports, repairs, and holds back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.domain.events import CouponIssued
from fcfs.domain.use_cases import Reconcile
from fcfs.ports.lag import ConsumerLag
from tests.support.memory_world import MemoryWorld

GRACE = 30.0


class FixedLag(ConsumerLag):
    def __init__(self, lag: int = 0) -> None:
        self.lag = lag

    async def total_lag(self) -> int:
        return self.lag


@pytest.fixture
def lag() -> FixedLag:
    return FixedLag()


def reconcile(world: MemoryWorld, lag: FixedLag) -> Reconcile:
    return Reconcile(
        world.coupons,
        world.issued,
        world.gate,
        world.publisher,
        world.unconfirmed,
        lag,
        world.clock,
        grace_seconds=GRACE,
    )


async def admit(world: MemoryWorld, coupon_id: int, *users: int) -> None:
    for user in users:
        await world.gate.try_issue(coupon_id, user)


async def persist(world: MemoryWorld, coupon_id: int, *users: int) -> None:
    events = [CouponIssued(str(uuid.uuid4()), coupon_id, user, world.clock.now()) for user in users]
    await world.issued.persist_capped(events)


def unconfirmed(world: MemoryWorld, coupon_id: int, user: int, age_seconds: float) -> CouponIssued:
    event = CouponIssued(str(uuid.uuid4()), coupon_id, user, world.clock.now() - timedelta(seconds=age_seconds))
    world.unconfirmed.events[event.event_id] = event
    return event


async def test_a_consistent_coupon_needs_nothing(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1, 2)
    await persist(world, coupon.id, 1, 2)

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.consistent
    assert (report.republished, report.settled, report.rebuilt_stock, report.deferred) == ((), (), None, ())
    assert world.publisher.published == []


async def test_a_dry_run_reports_every_difference_and_changes_nothing(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1, 2)
    await persist(world, coupon.id, 1, 3)
    recorded = unconfirmed(world, coupon.id, 4, age_seconds=60)

    report = await reconcile(world, lag).execute(coupon.id, dry_run=True)

    assert report.dry_run
    assert report.held_without_row == (2,)
    assert report.rows_without_hold == (3,)
    assert report.unconfirmed == (recorded.event_id,)
    assert report.republished == (2, 4)
    assert not report.consistent
    assert world.publisher.published == []
    assert list(world.unconfirmed.events) == [recorded.event_id]
    assert await world.gate.users(coupon.id) == {1, 2}
    assert await world.gate.remaining(coupon.id) == 3


async def test_a_user_held_without_a_row_is_republished_once_the_consumer_is_caught_up(
    world: MemoryWorld, lag: FixedLag
) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1)

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.republished == (1,)
    [event] = world.publisher.published
    assert (event.coupon_id, event.user_id) == (coupon.id, 1)
    await world.drain_published()
    assert (await reconcile(world, lag).execute(coupon.id)).consistent


async def test_nobody_is_republished_while_the_consumer_lags(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1)
    lag.lag = 12

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.held_without_row == (1,)
    assert report.republished == ()
    assert world.publisher.published == []
    assert any("lag is 12" in reason for reason in report.deferred)


async def test_an_unconfirmed_event_past_the_grace_period_is_republished_as_recorded_even_with_lag(
    world: MemoryWorld, lag: FixedLag
) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1, 2)
    old = unconfirmed(world, coupon.id, 1, age_seconds=GRACE + 1)
    unconfirmed(world, coupon.id, 2, age_seconds=GRACE - 1)
    lag.lag = 3

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.republished == (1,)
    assert world.publisher.published == [old]
    assert len(world.unconfirmed.events) == 2  # settled only once its row exists


async def test_an_unconfirmed_event_whose_row_exists_is_settled(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1)
    unconfirmed(world, coupon.id, 1, age_seconds=1)
    await persist(world, coupon.id, 1)

    report = await reconcile(world, lag).execute(coupon.id)

    assert len(report.settled) == 1
    assert world.unconfirmed.events == {}
    assert world.publisher.published == []


async def test_republished_then_persisted_then_settled_on_the_next_run(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1)
    unconfirmed(world, coupon.id, 1, age_seconds=GRACE + 1)
    await reconcile(world, lag).execute(coupon.id)
    await world.drain_published()

    report = await reconcile(world, lag).execute(coupon.id)

    assert world.unconfirmed.events == {}
    assert len(report.settled) == 1
    assert [row.user_id for row in world.rows(coupon.id)] == [1]


async def test_a_gate_that_lost_its_state_is_rebuilt_from_the_rows_once_the_lag_is_zero(
    world: MemoryWorld, lag: FixedLag
) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1, 2)
    await persist(world, coupon.id, 1, 2)
    world.gate.lose_state()

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.rows_without_hold == (1, 2)
    assert report.rebuilt_stock == 3
    assert await world.gate.remaining(coupon.id) == 3
    assert await world.gate.users(coupon.id) == {1, 2}
    assert (await reconcile(world, lag).execute(coupon.id)).consistent


async def test_the_gate_is_not_rebuilt_while_the_consumer_lags(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await persist(world, coupon.id, 1)
    world.gate.lose_state()
    lag.lag = 1

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.rebuilt_stock is None
    assert await world.gate.remaining(coupon.id) is None
    assert any("not rebuilt" in reason for reason in report.deferred)


async def test_the_gate_is_not_rebuilt_while_a_user_is_pending(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1, 2)
    await persist(world, coupon.id, 1, 3)

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.republished == (2,)
    assert report.rebuilt_stock is None
    assert await world.gate.users(coupon.id) == {1, 2}


async def test_a_coupon_whose_stock_was_never_loaded_is_left_alone(world: MemoryWorld, lag: FixedLag) -> None:
    coupon = await world.coupon(5, load=False)

    report = await reconcile(world, lag).execute(coupon.id)

    assert report.rebuilt_stock is None
    assert await world.gate.remaining(coupon.id) is None


async def test_a_republish_the_broker_refuses_is_reported_and_an_unknown_one_is_recorded(
    world: MemoryWorld, lag: FixedLag
) -> None:
    coupon = await world.coupon(5)
    await admit(world, coupon.id, 1)
    world.publisher.fail_with = PublishFailed

    refused = await reconcile(world, lag).execute(coupon.id)

    assert len(refused.failed) == 1
    assert world.unconfirmed.events == {}
    world.publisher.fail_with = PublishOutcomeUnknown
    unknown = await reconcile(world, lag).execute(coupon.id)
    assert len(unknown.failed) == 1
    assert [event.user_id for event in world.unconfirmed.events.values()] == [1]
