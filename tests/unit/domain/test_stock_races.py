"""A top-up and a stock load at the same time (review V1): the gate ends with the newest total's stock.

Each use case writes the gate from a total it read a moment earlier; when the other one
commits in between, the older write used to win: a load overwrote the units a top-up had
just added (the gate short), or a top-up added units the load had already counted (the
gate ahead of the database cap: users answered 202 whose events the cap then refuses).
The interleavings are forced by holding one use case's gate write until the other is done.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.adapters.memory.controls import MemoryCouponControls
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.domain.use_cases import LoadStock, TopUpStock
from tests.support.memory_world import MemoryWorld

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.domain.coupon_state import StateMark


class HeldGate(MemoryIssuanceGate):
    """The memory gate whose next `hold` write (`load_stock` or `add_stock`) waits for `release`."""

    def __init__(self, hold: str) -> None:
        super().__init__()
        self.hold = hold
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def _held(self, name: str) -> None:
        if self.hold == name:
            self.hold = ""
            self.reached.set()
            await self.release.wait()

    async def load_stock(
        self,
        coupon_id: int,
        stock: int,
        issued_users: Iterable[int],
        state: StateMark | None = None,
        total: int | None = None,
    ) -> None:
        await self._held("load_stock")
        await super().load_stock(coupon_id, stock, issued_users, state, total)

    async def add_stock(self, coupon_id: int, units: int, total: int | None = None) -> int | None:
        await self._held("add_stock")
        return await super().add_stock(coupon_id, units, total)


async def race(hold: str) -> tuple[int | None, int]:
    """Load 10 units, admit 2 users, then race a reload against a top-up of 5; the gate's stock and the total."""
    gate = HeldGate(hold="")
    world = MemoryWorld(gate=gate)
    coupon = await world.coupon(total=10, load=False)
    load = LoadStock(world.coupons, world.issued, gate)
    top_up = TopUpStock(world.coupons, MemoryCouponControls(world.db), gate)
    await load.execute(coupon.id)
    for user in (1, 2):
        await gate.try_issue(coupon.id, user)

    gate.hold = hold
    held = asyncio.create_task(load.execute(coupon.id) if hold == "load_stock" else top_up.execute(coupon.id, add=5))
    await gate.reached.wait()
    await (top_up.execute(coupon.id, add=5) if hold == "load_stock" else load.execute(coupon.id))
    gate.release.set()
    await held

    return await gate.remaining(coupon.id), world.stored(coupon.id).total_quantity


async def test_a_reload_that_read_the_total_before_a_top_up_keeps_the_top_ups_units() -> None:
    remaining, total = await race(hold="load_stock")

    assert (remaining, total) == (15 - 2, 15)


async def test_a_top_up_whose_units_a_reload_already_counted_does_not_add_them_again() -> None:
    remaining, total = await race(hold="add_stock")

    assert (remaining, total) == (15 - 2, 15)


async def test_top_ups_racing_each_other_after_a_load_add_each_unit_once() -> None:
    gate = MemoryIssuanceGate()
    world = MemoryWorld(gate=gate)
    coupon = await world.coupon(total=4, load=False)
    await LoadStock(world.coupons, world.issued, gate).execute(coupon.id)
    top_up = TopUpStock(world.coupons, MemoryCouponControls(world.db), gate)

    await asyncio.gather(*(top_up.execute(coupon.id, add=1) for _ in range(6)))

    assert (await gate.remaining(coupon.id), world.stored(coupon.id).total_quantity) == (10, 10)
