"""Issue commands and their outcomes. Sold out and already issued are values, not errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fcfs.domain.coupon import ensure_id
from fcfs.domain.errors import Code


@dataclass(frozen=True, slots=True)
class IssueCommand:
    coupon_id: int
    user_id: int

    def __post_init__(self) -> None:
        ensure_id(self.coupon_id, "couponId")
        ensure_id(self.user_id, "userId")


class IssueStatus(StrEnum):
    ISSUED = "issued"  # persisted before the answer
    ACCEPTED = "accepted"  # gate passed and event published: persisted by the consumer
    SOLD_OUT = "sold_out"
    ALREADY_ISSUED = "already_issued"
    NOT_LOADED = "not_loaded"
    NOT_OPEN = "not_open"

    @property
    def code(self) -> Code:
        return _CODES[self]

    @property
    def granted(self) -> bool:
        return self in (IssueStatus.ISSUED, IssueStatus.ACCEPTED)


_CODES = {
    IssueStatus.ISSUED: Code.OK,
    IssueStatus.ACCEPTED: Code.ACCEPTED,
    IssueStatus.SOLD_OUT: Code.SOLD_OUT,
    IssueStatus.ALREADY_ISSUED: Code.ALREADY_ISSUED,
    IssueStatus.NOT_LOADED: Code.STOCK_NOT_LOADED,
    IssueStatus.NOT_OPEN: Code.NOT_OPEN,
}


@dataclass(frozen=True, slots=True)
class IssueOutcome:
    status: IssueStatus
    coupon_id: int
    user_id: int
    issued_id: int | None = None
    event_id: str | None = None


class GateVerdict(StrEnum):
    """What the atomic gate (Redis Lua or its in-memory twin) answered."""

    ISSUED = "issued"
    ALREADY_ISSUED = "already_issued"
    SOLD_OUT = "sold_out"
    NOT_LOADED = "not_loaded"
    PAUSED = "paused"  # the coupon's mirrored state refused the attempt: raise `IssuancePaused`
    CLOSED = "closed"  # closed by an operator: answered as "not open"

    def as_status(self) -> IssueStatus:
        """The outcome a refusing verdict answers; `PAUSED` has none (it is `IssuancePaused`)."""
        if self is GateVerdict.CLOSED:
            return IssueStatus.NOT_OPEN
        return IssueStatus(self.value)


class UserIssueState(StrEnum):
    """What a user's status endpoint shows."""

    ISSUED = "issued"  # a row exists
    PENDING = "pending"  # the gate holds the user but no row exists yet
    FAILED = "failed"  # the gate admitted the user, but the database is full: no row can ever come
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PersistResult:
    """How one batch of `CouponIssued` events ended in the database, event by event.

    `inserted` got a row now; `duplicates` already had one (a redelivery, not an error);
    `over_cap` would have exceeded the coupon's total and were refused; `unknown_coupon`
    name a coupon that does not exist. Every event of the batch is in exactly one list.
    """

    inserted: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    over_cap: tuple[str, ...] = ()
    unknown_coupon: tuple[str, ...] = ()
