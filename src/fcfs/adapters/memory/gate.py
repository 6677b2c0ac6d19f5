"""The gate's in-memory twin: the same verdicts as the Lua script, atomic because it never awaits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.issuance import GateVerdict
from fcfs.ports.gate import IssuanceGate

if TYPE_CHECKING:
    from collections.abc import Iterable


class MemoryIssuanceGate(IssuanceGate):
    def __init__(self) -> None:
        self.stock: dict[int, int] = {}
        self.admitted: dict[int, set[int]] = {}

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
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

    async def load_stock(self, coupon_id: int, stock: int, issued_users: Iterable[int]) -> None:
        self.stock[coupon_id] = stock
        self.admitted[coupon_id] = set(issued_users)

    async def remaining(self, coupon_id: int) -> int | None:
        return self.stock.get(coupon_id)

    async def holds_user(self, coupon_id: int, user_id: int) -> bool:
        return user_id in self.admitted.get(coupon_id, set())

    async def users(self, coupon_id: int) -> set[int]:
        return set(self.admitted.get(coupon_id, set()))

    async def forget(self, coupon_id: int) -> None:
        self.stock.pop(coupon_id, None)
        self.admitted.pop(coupon_id, None)

    def lose_state(self) -> None:
        """What a Redis FLUSHALL or a failover without persistence does."""
        self.stock.clear()
        self.admitted.clear()
