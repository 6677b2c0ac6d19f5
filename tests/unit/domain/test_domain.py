"""The model's validation and the use cases over the in-memory twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcfs.domain.coupon import (
    MAX_ID,
    MAX_NAME_LENGTH,
    MAX_TOTAL_QUANTITY,
    NewCoupon,
    ValidityWindow,
    WindowState,
    ensure_id,
)
from fcfs.domain.errors import Code, CouponNotFound, InvalidInput, StockConflict, UnknownStrategy
from fcfs.domain.issuance import GateVerdict, IssueCommand, IssueStatus, UserIssueState
from fcfs.domain.use_cases import CouponWindows, IssueCoupon, LoadStock, ReadCoupon, ReadUserIssue
from fcfs.ports.strategy import IssueStrategy, StrategyCatalog
from tests.support.memory_world import NOW, MemoryWorld, build

aware = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
naive = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
positive_gap = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650))
good_names = st.text(min_size=1, max_size=MAX_NAME_LENGTH).filter(str.strip)


# --- ValidityWindow -----------------------------------------------------------------------


@given(start=aware, back=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_window_refuses_an_end_at_or_before_its_start(start: datetime, back: timedelta) -> None:
    with pytest.raises(InvalidInput):
        ValidityWindow(start, start - back)


@given(start=aware, gap=positive_gap)
def test_window_accepts_an_end_after_its_start(start: datetime, gap: timedelta) -> None:
    window = ValidityWindow(start, start + gap)

    assert window.state_at(start) is WindowState.OPEN
    assert window.state_at(start - timedelta(microseconds=1)) is WindowState.NOT_OPEN_YET
    assert window.state_at(start + gap) is WindowState.CLOSED


@given(moment=naive)
def test_window_refuses_naive_times_at_either_end(moment: datetime) -> None:
    with pytest.raises(InvalidInput):
        ValidityWindow(starts_at=moment)
    with pytest.raises(InvalidInput):
        ValidityWindow(ends_at=moment)


@given(moment=aware)
def test_window_with_open_ends_is_always_open(moment: datetime) -> None:
    assert ValidityWindow().state_at(moment) is WindowState.OPEN


# --- NewCoupon ----------------------------------------------------------------------------


@given(name=good_names, total=st.integers(1, MAX_TOTAL_QUANTITY))
def test_new_coupon_accepts_names_and_totals_within_bounds(name: str, total: int) -> None:
    assert NewCoupon(name, total).total_quantity == total


@given(name=st.text(min_size=MAX_NAME_LENGTH + 1, max_size=MAX_NAME_LENGTH + 50))
def test_new_coupon_refuses_a_name_too_long(name: str) -> None:
    with pytest.raises(InvalidInput):
        NewCoupon(name, 1)


@given(name=st.text(alphabet=" \t\n", max_size=10))
def test_new_coupon_refuses_a_blank_name(name: str) -> None:
    with pytest.raises(InvalidInput):
        NewCoupon(name, 1)


@given(total=st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_TOTAL_QUANTITY + 1)))
def test_new_coupon_refuses_a_total_out_of_bounds(total: int) -> None:
    with pytest.raises(InvalidInput):
        NewCoupon("launch", total)


@pytest.mark.parametrize("total", [True, 1.0, "1", None])
def test_new_coupon_refuses_a_total_that_is_not_an_int(total: object) -> None:
    with pytest.raises(InvalidInput):
        NewCoupon("launch", total)  # type: ignore[arg-type]


# --- ids ----------------------------------------------------------------------------------


@given(value=st.integers(1, MAX_ID))
def test_ensure_id_accepts_positive_64_bit_integers(value: int) -> None:
    assert ensure_id(value, "couponId") == value


@pytest.mark.parametrize("value", [1, 2**63 - 1])
def test_ensure_id_accepts_the_bounds(value: int) -> None:
    assert ensure_id(value, "userId") == value


@pytest.mark.parametrize("value", [0, -1, 2**63, True, False, "1", 1.0, None])
def test_ensure_id_refuses_anything_else(value: object) -> None:
    with pytest.raises(InvalidInput):
        ensure_id(value, "userId")


@given(value=st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_ID + 1)))
def test_issue_command_refuses_ids_out_of_range(value: int) -> None:
    with pytest.raises(InvalidInput):
        IssueCommand(value, 1)
    with pytest.raises(InvalidInput):
        IssueCommand(1, value)


# --- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "http_status"),
    [
        (IssueStatus.ISSUED, Code.OK, 200),
        (IssueStatus.ACCEPTED, Code.ACCEPTED, 202),
        (IssueStatus.SOLD_OUT, Code.SOLD_OUT, 409),
        (IssueStatus.ALREADY_ISSUED, Code.ALREADY_ISSUED, 409),
        (IssueStatus.NOT_LOADED, Code.STOCK_NOT_LOADED, 409),
        (IssueStatus.NOT_OPEN, Code.NOT_OPEN, 409),
    ],
)
def test_each_issue_status_has_one_envelope_code(status: IssueStatus, code: Code, http_status: int) -> None:
    assert status.code is code
    assert status.code.http_status == http_status


def test_only_issued_and_accepted_are_granted() -> None:
    assert {status for status in IssueStatus if status.granted} == {IssueStatus.ISSUED, IssueStatus.ACCEPTED}


@pytest.mark.parametrize("verdict", [v for v in GateVerdict if v not in {GateVerdict.PAUSED, GateVerdict.CLOSED}])
def test_every_admission_verdict_maps_to_the_status_of_the_same_name(verdict: GateVerdict) -> None:
    assert verdict.as_status().value == verdict.value


def test_a_closed_coupon_verdict_is_answered_as_not_open() -> None:
    assert GateVerdict.CLOSED.as_status() is IssueStatus.NOT_OPEN


# --- use cases ----------------------------------------------------------------------------


class OneStrategy(StrategyCatalog):
    def __init__(self, strategy: IssueStrategy) -> None:
        self._strategy = strategy

    @property
    def default_name(self) -> str:
        return self._strategy.name

    def get(self, name: str | None = None) -> IssueStrategy:
        if name not in (None, self._strategy.name):
            raise UnknownStrategy(f"unknown strategy {name!r}")
        return self._strategy


def issue_coupon(world: MemoryWorld, strategy: str = "lua") -> IssueCoupon:
    return IssueCoupon(CouponWindows(world.coupons), OneStrategy(build(strategy, world)), world.clock)


async def test_coupon_windows_remembers_a_window_after_the_first_read(world: MemoryWorld) -> None:
    window = ValidityWindow(NOW, NOW + timedelta(hours=1))
    coupon = await world.coupon(1, window)
    windows = CouponWindows(world.coupons)
    await windows.window(coupon.id)
    del world.db.coupons[coupon.id]  # the cache, not the store, answers from now on

    assert await windows.window(coupon.id) == window


async def test_coupon_windows_remembers_a_missing_coupon_only_for_its_ttl(world: MemoryWorld) -> None:
    remembering, forgetting = CouponWindows(world.coupons, miss_ttl=60), CouponWindows(world.coupons, miss_ttl=0)
    for windows in (remembering, forgetting):
        with pytest.raises(CouponNotFound):
            await windows.window(1)
    coupon = await world.coupon(1)  # takes id 1

    with pytest.raises(CouponNotFound):
        await remembering.window(coupon.id)
    assert await forgetting.window(coupon.id) == coupon.window


async def test_coupon_windows_forget_drops_the_cached_window(world: MemoryWorld) -> None:
    coupon = await world.coupon(1)
    windows = CouponWindows(world.coupons)
    await windows.window(coupon.id)
    del world.db.coupons[coupon.id]

    windows.forget(coupon.id)

    with pytest.raises(CouponNotFound):
        await windows.window(coupon.id)


@pytest.mark.parametrize(
    "window",
    [ValidityWindow(starts_at=NOW + timedelta(seconds=1)), ValidityWindow(ends_at=NOW)],
    ids=["not-open-yet", "closed"],
)
async def test_issue_outside_the_window_is_not_open_and_touches_nothing(
    window: ValidityWindow, world: MemoryWorld
) -> None:
    coupon = await world.coupon(5, window)

    outcome = await issue_coupon(world).execute(IssueCommand(coupon.id, 1))

    assert outcome.status is IssueStatus.NOT_OPEN
    assert await world.gate.remaining(coupon.id) == 5
    assert world.rows(coupon.id) == []


async def test_issue_inside_the_window_runs_the_strategy(world: MemoryWorld) -> None:
    coupon = await world.coupon(5, ValidityWindow(NOW - timedelta(hours=1), NOW + timedelta(hours=1)))

    outcome = await issue_coupon(world).execute(IssueCommand(coupon.id, 1))

    assert outcome.status is IssueStatus.ISSUED
    assert [row.user_id for row in world.rows(coupon.id)] == [1]


async def test_issue_with_an_unknown_strategy_is_refused(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)

    with pytest.raises(UnknownStrategy):
        await issue_coupon(world).execute(IssueCommand(coupon.id, 1), strategy="nope")


async def test_issue_of_an_unknown_coupon_is_not_found(world: MemoryWorld) -> None:
    with pytest.raises(CouponNotFound):
        await issue_coupon(world).execute(IssueCommand(999, 1))


async def test_load_stock_defaults_to_what_is_left_with_the_issued_users(world: MemoryWorld) -> None:
    coupon = await world.coupon(5, load=False)
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 1))
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 2))

    loaded = await LoadStock(world.coupons, world.issued, world.gate).execute(coupon.id)

    assert (loaded.stock, loaded.issued_users) == (3, 2)
    assert await world.gate.remaining(coupon.id) == 3
    assert await world.gate.users(coupon.id) == {1, 2}


async def test_load_stock_refuses_more_than_is_left(world: MemoryWorld) -> None:
    coupon = await world.coupon(5, load=False)
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 1))

    with pytest.raises(StockConflict):
        await LoadStock(world.coupons, world.issued, world.gate).execute(coupon.id, 5)

    assert await world.gate.remaining(coupon.id) is None


@pytest.mark.parametrize("quantity", [-1, True, 2.0])
async def test_load_stock_refuses_a_quantity_that_is_not_a_non_negative_int(
    quantity: object, world: MemoryWorld
) -> None:
    coupon = await world.coupon(5, load=False)

    with pytest.raises(InvalidInput):
        await LoadStock(world.coupons, world.issued, world.gate).execute(coupon.id, quantity)  # type: ignore[arg-type]


async def test_load_stock_of_an_unknown_coupon_is_not_found(world: MemoryWorld) -> None:
    with pytest.raises(CouponNotFound):
        await LoadStock(world.coupons, world.issued, world.gate).execute(999)


async def test_read_coupon_shows_the_gate_stock_once_loaded(world: MemoryWorld) -> None:
    coupon = await world.coupon(5, load=False)
    await build("pessimistic-lock", world).issue(IssueCommand(coupon.id, 1))
    read = ReadCoupon(world.coupons, world.issued, world.gate)

    unloaded = await read.execute(coupon.id)
    await world.gate.load_stock(coupon.id, 2, {1})
    loaded = await read.execute(coupon.id)

    assert (unloaded.remaining, unloaded.issued_count, unloaded.stock_loaded) == (4, 1, False)
    assert (loaded.remaining, loaded.issued_count, loaded.stock_loaded) == (2, 1, True)


async def test_read_user_issue_tells_none_pending_and_issued_apart(world: MemoryWorld) -> None:
    coupon = await world.coupon(5)
    await build("lua-async", world).issue(IssueCommand(coupon.id, 1))
    read = ReadUserIssue(world.coupons, world.issued, world.gate)

    before = await read.execute(coupon.id, 1), await read.execute(coupon.id, 2)
    await world.drain_published()
    after = await read.execute(coupon.id, 1)

    assert before == (UserIssueState.PENDING, UserIssueState.NONE)
    assert after is UserIssueState.ISSUED


async def test_read_user_issue_of_an_unknown_coupon_is_not_found(world: MemoryWorld) -> None:
    with pytest.raises(CouponNotFound):
        await ReadUserIssue(world.coupons, world.issued, world.gate).execute(999, 1)
