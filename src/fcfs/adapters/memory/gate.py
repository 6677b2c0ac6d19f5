"""The gate's in-memory twin: the same verdicts as the Lua script, atomic because it never awaits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState, StateMark
from fcfs.domain.issuance import GateVerdict
from fcfs.ports.controls import GateControls
from fcfs.ports.gate import GateStock, IssuanceGate

if TYPE_CHECKING:
    from collections.abc import Iterable

_REFUSED = {CouponState.PAUSED: GateVerdict.PAUSED, CouponState.CLOSED: GateVerdict.CLOSED}


class MemoryIssuanceGate(IssuanceGate, GateStock, GateControls):
    def __init__(self) -> None:
        self.stock: dict[int, int] = {}
        self.admitted: dict[int, set[int]] = {}
        self.states: dict[int, StateMark] = {}
        self.totals: dict[int, int] = {}  # the highest total each coupon's stock accounts for

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        mark = self.states.get(coupon_id)
        refused = None if mark is None else _REFUSED.get(mark.state)
        if refused is not None:
            return refused
        stock = self.stock.get(coupon_id)
        if stock is None:
            return GateVerdict.NOT_LOADED
        users = self.admitted.setdefault(coupon_id, set())
        if user_id in users:
            return GateVerdict.ALREADY_ISSUED
        if stock <= 0:
            return GateVerdict.SOLD_OUT
        users.add(user_id)
        self.stock[coupon_id] = stock - 1
        return GateVerdict.ISSUED

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        users = self.admitted.get(coupon_id, set())
        if user_id not in users:
            return False
        users.discard(user_id)
        self.stock[coupon_id] = self.stock.get(coupon_id, 0) + 1
        return True

    async def load_stock(
        self,
        coupon_id: int,
        stock: int,
        issued_users: Iterable[int],
        state: StateMark | None = None,
        total: int | None = None,
    ) -> None:
        if state is not None:
            await self.mirror_state(coupon_id, state)
        if total is not None:
            held = self.totals.setdefault(coupon_id, total)
            stock += max(held - total, 0)
            self.totals[coupon_id] = max(held, total)
        self.stock[coupon_id] = stock
        self.admitted[coupon_id] = set(issued_users)

    async def mirror_state(self, coupon_id: int, mark: StateMark) -> None:
        held = self.states.get(coupon_id)
        if held is None or held.version <= mark.version:
            self.states[coupon_id] = mark

    async def add_stock(self, coupon_id: int, units: int, total: int | None = None) -> int | None:
        stock = self.stock.get(coupon_id)
        if total is not None:  # as add_stock.lua: only what `total` brings above the total the stock accounts for
            held = self.totals.get(coupon_id)
            if held is not None:
                units = max(total - held, 0)
                self.totals[coupon_id] = max(held, total)
            elif stock is None:
                self.totals[coupon_id] = total
        if stock is None:
            return None
        self.stock[coupon_id] = stock + units
        return stock + units

    async def remaining(self, coupon_id: int) -> int | None:
        return self.stock.get(coupon_id)

    async def holds_user(self, coupon_id: int, user_id: int) -> bool:
        return user_id in self.admitted.get(coupon_id, set())

    async def users(self, coupon_id: int) -> set[int]:
        return set(self.admitted.get(coupon_id, set()))

    async def forget(self, coupon_id: int) -> None:
        self.stock.pop(coupon_id, None)
        self.admitted.pop(coupon_id, None)
        self.states.pop(coupon_id, None)
        self.totals.pop(coupon_id, None)

    def lose_state(self) -> None:
        """What a Redis FLUSHALL or a failover without persistence does."""
        self.stock.clear()
        self.admitted.clear()
        self.states.clear()
        self.totals.clear()
