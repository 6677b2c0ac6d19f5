"""Coupons and issued coupons: the values every strategy and adapter agrees on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState, StateMark
from fcfs.domain.errors import CouponNotFound, InvalidInput

if TYPE_CHECKING:
    from datetime import datetime

MAX_ID = 2**63 - 1
MAX_NAME_LENGTH = 200
MAX_TOTAL_QUANTITY = 10_000_000


def ensure_int(value: object, what: str, low: int, high: int) -> int:
    """`value` when it is an int (not a bool, not a float) from `low` to `high`; else `InvalidInput` naming `what`."""
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(f"{what} must be an integer from {low} to {high}")
    return value


def ensure_id(value: object, what: str) -> int:
    """Ids are positive 64-bit integers; anything else never reaches a key or a query."""
    return ensure_int(value, what, 1, MAX_ID)


class WindowState(StrEnum):
    OPEN = "open"
    NOT_OPEN_YET = "not_open_yet"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ValidityWindow:
    """When a coupon may be issued; either end may be open. Times are timezone-aware UTC."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.starts_at, self.ends_at):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("window times must carry a timezone")
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise InvalidInput("endsAt must be after startsAt")

    def state_at(self, now: datetime) -> WindowState:
        if self.starts_at is not None and now < self.starts_at:
            return WindowState.NOT_OPEN_YET
        if self.ends_at is not None and now >= self.ends_at:
            return WindowState.CLOSED
        return WindowState.OPEN


@dataclass(frozen=True, slots=True)
class NewCoupon:
    """A coupon as an admin asks for it, validated before any storage sees it."""

    name: str
    total_quantity: int
    window: ValidityWindow = ValidityWindow()

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("name must be a non-empty string")
        if len(self.name) > MAX_NAME_LENGTH:
            raise InvalidInput(f"name must be at most {MAX_NAME_LENGTH} characters")
        ensure_int(self.total_quantity, "totalQuantity", 1, MAX_TOTAL_QUANTITY)


@dataclass(frozen=True, slots=True)
class Coupon:
    """A stored coupon. `issued_quantity` is the database's own count, capped by `total_quantity`.

    `state` is the operator's switch (open, paused, closed); `state_version` grows with
    each change, so the gate's mirror of the state never goes back to an older one.
    """

    id: int
    name: str
    total_quantity: int
    issued_quantity: int
    window: ValidityWindow
    created_at: datetime
    state: CouponState = CouponState.OPEN
    state_version: int = 0

    @property
    def left_to_issue(self) -> int:
        return max(self.total_quantity - self.issued_quantity, 0)

    @property
    def state_mark(self) -> StateMark:
        return StateMark(self.state, self.state_version)


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    """One persisted issuance: at most one per (coupon, user)."""

    id: int
    coupon_id: int
    user_id: int
    issued_at: datetime
    event_id: str | None = None


def require(coupon: Coupon | None, coupon_id: int) -> Coupon:
    if coupon is None:
        raise CouponNotFound(f"coupon {coupon_id} does not exist")
    return coupon
