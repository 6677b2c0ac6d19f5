"""What the stores hold for one coupon, so tests and the demo can check docs/design.md §1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.coupon import require

if TYPE_CHECKING:
    from fcfs.ports.gate import GateStock
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class AuditCoupon:
    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: GateStock | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int) -> CouponAudit:
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        rows = await self._issued.count(coupon_id)
        users = frozenset(await self._issued.user_ids(coupon_id))
        remaining = await self._gate.remaining(coupon_id) if self._gate is not None else None
        gate_users = frozenset(await self._gate.users(coupon_id)) if self._gate is not None else frozenset()
        return CouponAudit(coupon_id, coupon.total_quantity, coupon.issued_quantity, rows, users, remaining, gate_users)


@dataclass(frozen=True, slots=True)
class CouponAudit:
    """What the stores hold for one coupon, for checking the invariants of docs/design.md §1."""

    coupon_id: int
    total_quantity: int
    issued_quantity: int
    rows: int
    row_users: frozenset[int]
    gate_remaining: int | None
    gate_users: frozenset[int]

    @property
    def over_issued(self) -> int:
        return max(self.rows - self.total_quantity, 0)

    @property
    def duplicate_rows(self) -> int:
        return self.rows - len(self.row_users)
