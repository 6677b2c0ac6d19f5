"""What every read of a coupon's figures starts from: its row, its issued rows, and who decides its stock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.admission import trusts_gate_stock
from fcfs.domain.coupon import Coupon, ensure_id, require

if TYPE_CHECKING:
    from fcfs.ports.admission import AdmissionLedger
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class CouponReader:
    """The base of the use cases that report a coupon's figures (the coupon read, the live view).

    The row comes first: no coupon is 404 C001 before any other store is asked. The gate's
    stock is the coupon's remaining stock unless a database-coordinated strategy admits for
    it: the gate never sees those admissions, so its stock would be stale.
    """

    def __init__(
        self, coupons: CouponRepository, issued: IssuedCouponRepository, admissions: AdmissionLedger | None = None
    ) -> None:
        self._coupons = coupons
        self._issued = issued
        self._admissions = admissions

    async def _coupon(self, coupon_id: int) -> Coupon:
        ensure_id(coupon_id, "couponId")
        return require(await self._coupons.get(coupon_id), coupon_id)

    async def _gate_decides(self, coupon_id: int) -> bool:
        return self._admissions is None or trusts_gate_stock(await self._admissions.family(coupon_id))
