"""A short-lived, in-process sold-out flag per coupon (the original's Caffeine flag).

Once an attempt is answered sold out, further attempts on that coupon (with the same
strategy choice) are answered sold out for `ttl` seconds without calling the gate, so
the tail of a flash sale costs no Redis round trip. The flag only ever answers what the
gate just said: it cannot issue anything, so it cannot break invariants 1–3. What it can
do is answer "sold out" for up to `ttl` after a unit came back (a compensation), or to a
user who already holds the coupon (instead of "already issued"). Loading stock, a
top-up, a pause, resume or close, or deleting the coupon in this process clears the flag
at once; other processes wait out their `ttl`. So on another instance a coupon that sold
out in the last `ttl` may answer "sold out" where the gate would say paused (C009) or
closed (C005): the flag admits nobody either, so a pause still holds everywhere the
moment it answered; only the code differs, for at most `ttl`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.ports.use_cases import ChangesCouponState, DeletesCoupons, IssuesCoupons, LoadsStock, Report_co, TopsUpStock

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.domain.issuance import IssueCommand


class SoldOutFlags:
    def __init__(self, ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._now = now
        self._until: dict[tuple[int, str | None], float] = {}

    def raised(self, coupon_id: int, strategy: str | None) -> bool:
        until = self._until.get((coupon_id, strategy))
        return until is not None and until > self._now()

    def raise_flag(self, coupon_id: int, strategy: str | None) -> None:
        if self._ttl > 0:
            self._until[(coupon_id, strategy)] = self._now() + self._ttl

    def clear(self, coupon_id: int) -> None:
        for name in [name for name in self._until if name[0] == coupon_id]:
            del self._until[name]


class SoldOutShortcut(IssuesCoupons):
    def __init__(self, inner: IssuesCoupons, flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        if self._flags.raised(command.coupon_id, strategy):
            return IssueOutcome(IssueStatus.SOLD_OUT, command.coupon_id, command.user_id)
        outcome = await self._inner.execute(command, strategy)
        if outcome.status is IssueStatus.SOLD_OUT:
            self._flags.raise_flag(command.coupon_id, strategy)
        return outcome


class FlagClearingLoadStock(LoadsStock[Report_co]):
    def __init__(self, inner: LoadsStock[Report_co], flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, coupon_id: int, quantity: int | None = None) -> Report_co:
        try:
            return await self._inner.execute(coupon_id, quantity)
        finally:
            self._flags.clear(coupon_id)


class FlagClearingDeleteCoupon(DeletesCoupons):
    def __init__(self, inner: DeletesCoupons, flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, coupon_id: int) -> None:
        try:
            await self._inner.execute(coupon_id)
        finally:
            self._flags.clear(coupon_id)


class FlagClearingStateChange(ChangesCouponState[Report_co]):
    def __init__(self, inner: ChangesCouponState[Report_co], flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, coupon_id: int) -> Report_co:
        try:
            return await self._inner.execute(coupon_id)
        finally:
            self._flags.clear(coupon_id)


class FlagClearingTopUp(TopsUpStock[Report_co]):
    def __init__(self, inner: TopsUpStock[Report_co], flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, coupon_id: int, *, add: int | None = None, total_quantity: int | None = None) -> Report_co:
        try:
            return await self._inner.execute(coupon_id, add=add, total_quantity=total_quantity)
        finally:
            self._flags.clear(coupon_id)
