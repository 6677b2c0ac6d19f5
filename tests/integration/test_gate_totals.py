"""The total the gate's stock accounts for (`add_stock.lua`, `load_stock.lua`), on Redis and the twin alike.

A top-up and a stock load each write the gate from a total read a moment before; whichever
order their writes arrive in, the stock ends as the newest total allows (review V1; the
use-case races are in tests/unit/domain/test_stock_races.py).
"""

from __future__ import annotations

import pytest

from tests.support.gates import GATE_KINDS, Gate, gate_of_kind

COUPON = 12


@pytest.fixture(params=GATE_KINDS)
def gate(request: pytest.FixtureRequest) -> Gate:
    return gate_of_kind(request)


async def test_a_load_from_an_older_total_keeps_the_units_a_top_up_added_meanwhile(gate: Gate) -> None:
    await gate.load_stock(COUPON, 8, {1, 2}, total=10)
    assert await gate.add_stock(COUPON, 5, total=15) == 13

    await gate.load_stock(COUPON, 8, {1, 2}, total=10)  # read the total before the top-up

    assert await gate.remaining(COUPON) == 13


async def test_a_top_up_a_load_already_counted_adds_nothing(gate: Gate) -> None:
    await gate.load_stock(COUPON, 8, {1, 2}, total=10)
    await gate.load_stock(COUPON, 13, {1, 2}, total=15)  # read the raised total

    assert await gate.add_stock(COUPON, 5, total=15) == 13


async def test_top_ups_arriving_out_of_order_add_each_unit_once(gate: Gate) -> None:
    await gate.load_stock(COUPON, 10, set(), total=10)

    assert await gate.add_stock(COUPON, 3, total=15) == 15  # the later raise (12 → 15) arrives first: 5 units
    assert await gate.add_stock(COUPON, 2, total=12) == 15


async def test_a_top_up_before_any_load_is_counted_by_the_load_that_read_the_older_total(gate: Gate) -> None:
    assert await gate.add_stock(COUPON, 5, total=15) is None

    await gate.load_stock(COUPON, 10, set(), total=10)

    assert await gate.remaining(COUPON) == 15


async def test_without_totals_units_are_added_as_they_are(gate: Gate) -> None:
    await gate.load_stock(COUPON, 1, {9})
    assert await gate.add_stock(COUPON, 4, total=20) == 5
