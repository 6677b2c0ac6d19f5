"""The use cases: create a coupon, load its stock, issue it, read its state, persist batches.

They speak only to ports, so the same code runs on Redis + Kafka + MariaDB, on the
embedded default and on the in-memory twins of the unit tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.coupon import Coupon, NewCoupon, ValidityWindow, WindowState, ensure_id, require
from fcfs.domain.errors import CouponNotFound, InvalidInput, StockConflict
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus, PersistResult, UserIssueState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.domain.events import CouponIssued
    from fcfs.ports.clock import Clock
    from fcfs.ports.gate import IssuanceGate
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository
    from fcfs.ports.strategy import StrategyCatalog


class CreateCoupon:
    def __init__(self, coupons: CouponRepository) -> None:
        self._coupons = coupons

    async def execute(self, new: NewCoupon) -> Coupon:
        return await self._coupons.add(new)


@dataclass(frozen=True, slots=True)
class StockLoaded:
    coupon_id: int
    stock: int
    issued_users: int


class LoadStock:
    """Puts a coupon's stock into the gate, with the users the database already holds.

    Default stock is what the database has not issued yet; asking for more would let the
    gate admit users the database cap must then refuse, so it is a conflict.
    """

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, quantity: int | None = None) -> StockLoaded:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        users = await self._issued.user_ids(coupon_id)
        left = max(coupon.total_quantity - len(users), 0)
        if quantity is None:
            quantity = left
        elif type(quantity) is not int or quantity < 0:
            raise InvalidInput("quantity must be a non-negative integer")
        elif quantity > left:
            raise StockConflict(f"quantity {quantity} exceeds the {left} units not yet issued")
        if self._gate is not None:
            await self._gate.load_stock(coupon_id, quantity, users)
        return StockLoaded(coupon_id, quantity, len(users))


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

    async def window(self, coupon_id: int) -> ValidityWindow:
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


class IssueCoupon:
    def __init__(self, windows: CouponWindows, strategies: StrategyCatalog, clock: Clock) -> None:
        self._windows = windows
        self._strategies = strategies
        self._clock = clock

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        chosen = self._strategies.get(strategy)
        window = await self._windows.window(command.coupon_id)
        if window.state_at(self._clock.now()) is not WindowState.OPEN:
            return IssueOutcome(IssueStatus.NOT_OPEN, command.coupon_id, command.user_id)
        return await chosen.issue(command)


@dataclass(frozen=True, slots=True)
class CouponView:
    coupon: Coupon
    remaining: int
    issued_count: int
    stock_loaded: bool


class ReadCoupon:
    """Issued count is the rows that exist; remaining is the gate's stock when it has one."""

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int) -> CouponView:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        issued_count = await self._issued.count(coupon_id)
        gate_stock = await self._gate.remaining(coupon_id) if self._gate is not None else None
        if gate_stock is None:
            return CouponView(coupon, max(coupon.total_quantity - issued_count, 0), issued_count, False)
        return CouponView(coupon, gate_stock, issued_count, True)


class ReadUserIssue:
    """A row means issued; a user the gate admitted without a row yet is pending."""

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, user_id: int) -> UserIssueState:
        ensure_id(coupon_id, "couponId")
        ensure_id(user_id, "userId")
        require(await self._coupons.get(coupon_id), coupon_id)
        if await self._issued.find(coupon_id, user_id) is not None:
            return UserIssueState.ISSUED
        if self._gate is not None and await self._gate.holds_user(coupon_id, user_id):
            return UserIssueState.PENDING
        return UserIssueState.NONE


class DeleteCoupon:
    def __init__(self, coupons: CouponRepository, gate: IssuanceGate | None, windows: CouponWindows) -> None:
        self._coupons = coupons
        self._gate = gate
        self._windows = windows

    async def execute(self, coupon_id: int) -> None:
        ensure_id(coupon_id, "couponId")
        if not await self._coupons.delete(coupon_id):
            raise CouponNotFound(f"coupon {coupon_id} does not exist")
        if self._gate is not None:
            await self._gate.forget(coupon_id)
        self._windows.forget(coupon_id)


class PersistIssued:
    """The consumer's use case: a decoded batch in, one capped idempotent transaction out."""

    def __init__(self, issued: IssuedCouponRepository) -> None:
        self._issued = issued

    async def execute(self, events: Sequence[CouponIssued]) -> PersistResult:
        if not events:
            return PersistResult()
        return await self._issued.persist_capped(events)
