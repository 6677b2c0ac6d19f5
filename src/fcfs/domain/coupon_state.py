"""Whether a coupon is issuing: open, paused by an operator, or closed for good.

The database holds the state (the source of truth) with a version that grows by one on
every change; the gate keeps a mirror and takes a write only when its version is not
older than the one it holds. So two operators pausing and resuming on different
instances at once cannot leave the gate in the state the database left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fcfs.domain.errors import CouponClosed


class CouponState(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StateMark:
    """A state as the database last wrote it; `version` orders the gate's mirror writes."""

    state: CouponState
    version: int = 0


OPEN = StateMark(CouponState.OPEN)

# Which states each target may be reached from; closing is final.
_REACHABLE_FROM: dict[CouponState, frozenset[CouponState]] = {
    CouponState.OPEN: frozenset({CouponState.OPEN, CouponState.PAUSED}),
    CouponState.PAUSED: frozenset({CouponState.OPEN, CouponState.PAUSED}),
    CouponState.CLOSED: frozenset(CouponState),
}


def reachable_from(target: CouponState) -> frozenset[CouponState]:
    """The states a coupon may be moved to `target` from (a move to the current state changes nothing)."""
    return _REACHABLE_FROM[target]


def ensure_reached(coupon_id: int, target: CouponState, found: StateMark) -> StateMark:
    """`found` when the change took effect; the only refusal is a coupon already closed."""
    if found.state is not target:
        raise CouponClosed(f"coupon {coupon_id} is closed; it cannot be {target.value} again")
    return found
