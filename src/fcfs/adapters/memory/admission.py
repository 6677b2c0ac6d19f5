"""The admission ledger's in-memory twin, beside the memory database's coupons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.ports.admission import AdmissionLedger

if TYPE_CHECKING:
    from fcfs.adapters.memory.store import MemoryDatabase


class MemoryAdmissionLedger(AdmissionLedger):
    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._families: dict[int, str] = {}

    async def claim(self, coupon_id: int, family: str) -> str | None:
        if coupon_id not in self._db.coupons:
            self._families.pop(coupon_id, None)
            return None
        return self._families.setdefault(coupon_id, family)

    async def family(self, coupon_id: int) -> str | None:
        return self._families.get(coupon_id) if coupon_id in self._db.coupons else None
