"""What an operator watches during a live event (docs/design.md, the live view): one snapshot per second.

Every number is read from a store all instances share (the gate, the database, the
broker's offsets, the per-second answer counters), never from a process's memory, so two
consoles on two instances show the same figures for the same second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fcfs.domain.coupon_state import CouponState

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fcfs.domain.coupon import Coupon


@dataclass(frozen=True, slots=True)
class GateCounts:
    """What the gate holds for a coupon, and the issue answers given in one second, by code.

    `remaining` is None when the stock was never loaded (or no gate is configured).
    """

    remaining: int | None = None
    admitted: int = 0
    answers: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The coupon as of the whole second `second` (Unix time); `answers` are those of the second before."""

    coupon_id: int
    second: int
    state: CouponState
    total_quantity: int
    remaining: int
    accepted: int
    persisted: int
    answers: Mapping[str, int]
    lag: int | None  # records the consumer group has not committed; None when the broker cannot tell

    @property
    def pending(self) -> int:
        """Accepted but not yet a row: what the consumer still owes (never negative)."""
        return max(self.accepted - self.persisted, 0)

    @property
    def paused(self) -> bool:
        return self.state is CouponState.PAUSED

    @property
    def closed(self) -> bool:
        return self.state is CouponState.CLOSED


def live_snapshot(
    coupon: Coupon, second: int, persisted: int, gate: GateCounts, *, gate_decides: bool, lag: int | None
) -> LiveSnapshot:
    """The snapshot from observed values.

    When the gate decides for the coupon (Redis-gated strategies, stock loaded), accepted is
    the users it admitted and remaining its stock: the consumer's rows trail them. Otherwise
    (database-coordinated strategies, or no stock in the gate) a user is accepted only with
    a row, so accepted is the rows and remaining what the total leaves.
    """
    if gate_decides and gate.remaining is not None:
        remaining, accepted = max(gate.remaining, 0), max(gate.admitted, persisted)
    else:
        remaining, accepted = max(coupon.total_quantity - persisted, 0), persisted
    return LiveSnapshot(
        coupon_id=coupon.id,
        second=second,
        state=coupon.state,
        total_quantity=coupon.total_quantity,
        remaining=remaining,
        accepted=accepted,
        persisted=persisted,
        answers=dict(sorted(gate.answers.items())),
        lag=lag,
    )
