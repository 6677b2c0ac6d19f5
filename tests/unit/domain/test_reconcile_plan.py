"""Reconcile's plan (docs/design.md §6.7) over plain observed values: no store, no fake, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fcfs.domain.events import CouponIssued
from fcfs.domain.use_cases.reconcile_plan import ReconcileObservation, plan_reconcile

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
GRACE = timedelta(seconds=30)


def unsure(user_id: int, age_seconds: float, event_id: str | None = None) -> CouponIssued:
    return CouponIssued(event_id or f"ev-{user_id}-{age_seconds}", 1, user_id, NOW - timedelta(seconds=age_seconds))


def seen(
    *,
    total: int = 5,
    lag: int = 0,
    stock: int | None = None,
    gate: set[int] | frozenset[int] = frozenset(),
    rows: set[int] | frozenset[int] = frozenset(),
    unconfirmed: tuple[CouponIssued, ...] = (),
) -> ReconcileObservation:
    return ReconcileObservation(1, stock, total, lag, frozenset(gate), frozenset(rows), unconfirmed)


def test_a_consistent_coupon_needs_nothing() -> None:
    plan = plan_reconcile(seen(stock=3, gate={1, 2}, rows={1, 2}), NOW, GRACE)

    assert (plan.republish, plan.settle, plan.rebuild_stock, plan.deferred) == ((), (), None, ())


def test_held_users_without_rows_are_republished_once_the_lag_is_zero() -> None:
    plan = plan_reconcile(seen(stock=2, gate={1, 2, 3}, rows={1}), NOW, GRACE)

    assert plan.republish == (2, 3)
    assert plan.recorded == {}


def test_held_users_wait_while_the_consumer_lags() -> None:
    plan = plan_reconcile(seen(lag=4, stock=2, gate={1, 2, 3}, rows={1}), NOW, GRACE)

    assert plan.republish == ()
    assert plan.rebuild_stock is None
    assert plan.deferred == (
        "2 users without a row wait: consumer lag is 4",
        "gate stock not rebuilt: consumer lag is 4, 2 users pending",
    )


def test_a_recorded_event_past_the_grace_is_resent_whatever_the_lag() -> None:
    old, fresh = unsure(7, age_seconds=60), unsure(8, age_seconds=5)

    plan = plan_reconcile(seen(lag=9, stock=3, gate={7, 8}, unconfirmed=(old, fresh)), NOW, GRACE)

    assert plan.republish == (7,)
    assert plan.recorded == {7: old}


def test_the_oldest_recorded_event_of_a_user_is_the_one_resent() -> None:
    newer, older = unsure(7, age_seconds=40, event_id="newer"), unsure(7, age_seconds=90, event_id="older")

    plan = plan_reconcile(seen(stock=4, gate={7}, unconfirmed=(newer, older)), NOW, GRACE)

    assert plan.recorded[7] is older


def test_unconfirmed_events_whose_row_exists_are_settled() -> None:
    done = unsure(1, age_seconds=1)

    plan = plan_reconcile(seen(stock=4, gate={1}, rows={1}, unconfirmed=(done,)), NOW, GRACE)

    assert plan.settle == (done,)
    assert plan.republish == ()


def test_stock_is_rebuilt_from_rows_when_the_gate_lost_its_state() -> None:
    plan = plan_reconcile(seen(total=5, stock=None, gate=set(), rows={1, 2}), NOW, GRACE)

    assert plan.rebuild_stock == 3
    assert plan.deferred == ()


def test_stock_never_loaded_is_not_invented() -> None:
    plan = plan_reconcile(seen(stock=None), NOW, GRACE)

    assert plan.rebuild_stock is None
    assert plan.deferred == ("stock was never loaded: load it with `POST .../stock`",)


def test_stock_is_not_rebuilt_while_a_user_is_pending() -> None:
    plan = plan_reconcile(seen(total=5, stock=1, gate={1, 2}, rows={1}), NOW, GRACE)

    assert plan.rebuild_stock is None
    assert plan.deferred == ("gate stock not rebuilt: consumer lag is 0, 1 users pending",)


@given(
    gate=st.frozensets(st.integers(1, 12), max_size=8),
    rows=st.frozensets(st.integers(1, 12), max_size=8),
    recorded=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 120)), max_size=6),
    lag=st.integers(0, 3),
    stock=st.none() | st.integers(0, 12),
)
def test_a_user_with_a_row_is_never_republished_and_none_twice(
    gate: frozenset[int], rows: frozenset[int], recorded: list[tuple[int, int]], lag: int, stock: int | None
) -> None:
    events = tuple(unsure(user, age, event_id=f"e{index}") for index, (user, age) in enumerate(recorded))

    plan = plan_reconcile(seen(total=12, lag=lag, stock=stock, gate=gate, rows=rows, unconfirmed=events), NOW, GRACE)

    assert not set(plan.republish) & rows
    assert len(set(plan.republish)) == len(plan.republish)
    assert list(plan.republish) == sorted(plan.republish)
    assert set(plan.recorded) <= set(plan.republish)
    if plan.rebuild_stock is not None:
        assert lag == 0
        assert plan.rebuild_stock == 12 - len(rows)
