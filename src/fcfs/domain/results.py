"""What a committed batch decided for each user, as listeners of docs/design.md §10 hear it.

The consumer announces, per coupon, the users whose rows are now durable and the users the
database refused (with the dead-letter reason); a waiting user's stream turns that into
`issued` or `failed`. Only committed outcomes are announced, so `issued` always means the
row can already be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id
from fcfs.domain.errors import Code, FcfsError
from fcfs.domain.events import DeadLetterReason
from fcfs.domain.issuance import UserIssueState

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fcfs.domain.events import CouponIssued
    from fcfs.domain.issuance import PersistResult


class NotificationFailed(FcfsError):
    """An announcement could not be sent or a subscription made; the results themselves are not affected."""

    code = Code.TEMPORARY


@dataclass(frozen=True, slots=True)
class UserResult:
    """The end of one user's story: `issued`, or `failed` with why; `committed_at` is epoch seconds."""

    state: UserIssueState
    reason: str | None = None
    committed_at: float | None = None


@dataclass(frozen=True, slots=True)
class CouponResults:
    """One coupon's share of one committed batch.

    `persisted` are users with a row now (inserted, or already there: a redelivery is still
    issued); `refused` maps a user to the dead-letter reason (over_cap, unknown_coupon).
    """

    coupon_id: int
    persisted: frozenset[int] = frozenset()
    refused: Mapping[int, str] = field(default_factory=dict)
    committed_at: float = 0.0

    def __post_init__(self) -> None:
        ensure_id(self.coupon_id, "couponId")

    def __bool__(self) -> bool:
        return bool(self.persisted or self.refused)

    def for_user(self, user_id: int) -> UserResult | None:
        """What this batch says about `user_id`; None when it does not name the user."""
        if user_id in self.persisted:
            return UserResult(UserIssueState.ISSUED, None, self.committed_at)
        reason = self.refused.get(user_id)
        if reason is not None:
            return UserResult(UserIssueState.FAILED, reason, self.committed_at)
        return None


def results_by_coupon(
    events: Sequence[CouponIssued], result: PersistResult, committed_at: float
) -> list[CouponResults]:
    """Group a persisted batch's outcome by coupon, in coupon order; coupons with nothing to say are left out."""
    outcome: dict[str, str | None] = dict.fromkeys((*result.inserted, *result.duplicates))
    outcome.update(dict.fromkeys(result.over_cap, DeadLetterReason.OVER_CAP.value))
    outcome.update(dict.fromkeys(result.unknown_coupon, DeadLetterReason.UNKNOWN_COUPON.value))
    persisted: dict[int, set[int]] = {}
    refused: dict[int, dict[int, str]] = {}
    for event in events:
        if event.event_id not in outcome:
            continue
        reason = outcome[event.event_id]
        if reason is None:
            persisted.setdefault(event.coupon_id, set()).add(event.user_id)
        else:
            refused.setdefault(event.coupon_id, {})[event.user_id] = reason
    return [
        CouponResults(coupon, frozenset(persisted.get(coupon, ())), refused.get(coupon, {}), committed_at)
        for coupon in sorted(persisted.keys() | refused.keys())
    ]
