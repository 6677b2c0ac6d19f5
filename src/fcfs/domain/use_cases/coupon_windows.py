"""The per-process cache of coupon windows that keeps the issue path free of database reads."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from fcfs.domain.errors import CouponNotFound

if TYPE_CHECKING:
    from fcfs.domain.coupon import ValidityWindow
    from fcfs.ports.repositories import CouponRepository


class CouponWindows:
    """A per-process cache of coupon windows, so an issue attempt costs no database read.

    Windows never change after creation; a coupon that does not exist is remembered for a
    short time only, so a flood of requests for it costs one query per `miss_ttl`.
    """

    def __init__(self, coupons: CouponRepository, miss_ttl: float = 1.0) -> None:
        self._coupons = coupons
        self._known: dict[int, ValidityWindow] = {}
        self._missing: dict[int, float] = {}
        self._miss_ttl = miss_ttl
        self._loading: dict[int, asyncio.Lock] = {}

    async def window(self, coupon_id: int) -> ValidityWindow:
        window = self._known.get(coupon_id)
        if window is not None:
            return window
        # Single flight: a burst that starts cold asks the database once, not once per request.
        async with self._loading.setdefault(coupon_id, asyncio.Lock()):
            window = self._known.get(coupon_id)
            if window is not None:
                return window
            missed_at = self._missing.get(coupon_id)
            if missed_at is not None and time.monotonic() - missed_at < self._miss_ttl:
                raise CouponNotFound(f"coupon {coupon_id} does not exist")
            coupon = await self._coupons.get(coupon_id)
            if coupon is None:
                self._missing[coupon_id] = time.monotonic()
                raise CouponNotFound(f"coupon {coupon_id} does not exist")
            self._missing.pop(coupon_id, None)
            self._known[coupon_id] = coupon.window
            return coupon.window

    def forget(self, coupon_id: int) -> None:
        self._known.pop(coupon_id, None)
        self._missing.pop(coupon_id, None)
        self._loading.pop(coupon_id, None)
