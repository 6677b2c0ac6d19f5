"""Reading a coupon's audit trail a page at a time, newest first (`GET …/audit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.audit import DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE, AuditPage
from fcfs.domain.coupon import ensure_id, ensure_int
from fcfs.domain.errors import CouponNotFound

if TYPE_CHECKING:
    from fcfs.ports.audit import AuditLog
    from fcfs.ports.repositories import CouponRepository


class ReadAuditTrail:
    """Pages are cut by id (`before`), not by offset, so rows recorded while an operator pages
    through never shift or repeat an entry. A deleted coupon's trail still reads (its delete is
    the newest row); only a coupon with neither a row nor a trail is C001.
    """

    def __init__(self, log: AuditLog, coupons: CouponRepository) -> None:
        self._log = log
        self._coupons = coupons

    async def execute(self, coupon_id: int, limit: int = DEFAULT_AUDIT_PAGE, before: int | None = None) -> AuditPage:
        ensure_id(coupon_id, "couponId")
        ensure_int(limit, "limit", 1, MAX_AUDIT_PAGE)
        if before is not None:
            ensure_id(before, "before")
        found = tuple(await self._log.entries(coupon_id, limit + 1, before))
        entries = found[:limit]
        if not entries and before is None and await self._coupons.get(coupon_id) is None:
            raise CouponNotFound(f"coupon {coupon_id} does not exist and has no audit trail")
        next_before = entries[-1].id if len(found) > limit else None
        return AuditPage(coupon_id, entries, next_before)
