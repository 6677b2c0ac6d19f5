"""Reconcile's decisions (docs/design.md §6.7) as pure functions over what was observed.

Nothing here reads a store or the clock: `Reconcile` observes, calls `plan_reconcile`
and carries the plan out, so every branch is testable with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from collections.abc import Set as AbstractSet
    from datetime import datetime, timedelta

    from fcfs.domain.events import CouponIssued


@dataclass(frozen=True, slots=True)
class ReconcileObservation:
    """One coupon as the stores showed it; `lag` was read before the rows, so rows include all it counted."""

    coupon_id: int
    gate_stock: int | None
    total_quantity: int
    lag: int
    gate_users: frozenset[int]
    rows: frozenset[int]
    unconfirmed: tuple[CouponIssued, ...]


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """`republish` users in order; `recorded` the unconfirmed event to resend for those who have one."""

    republish: tuple[int, ...]
    recorded: Mapping[int, CouponIssued]
    settle: tuple[CouponIssued, ...]
    rebuild_stock: int | None
    deferred: tuple[str, ...]


def plan_reconcile(seen: ReconcileObservation, now: datetime, grace: timedelta) -> ReconcilePlan:
    republish, recorded, waiting = _plan_republish(seen, now, grace)
    deferred = [f"{waiting} users without a row wait: consumer lag is {seen.lag}"] if waiting else []
    rebuild, held_back = _plan_rebuild(seen)
    if held_back:
        deferred.append(held_back)
    return ReconcilePlan(republish, recorded, settled(seen.unconfirmed, seen.rows), rebuild, tuple(deferred))


def settled(unconfirmed: Iterable[CouponIssued], rows: AbstractSet[int]) -> tuple[CouponIssued, ...]:
    """Unconfirmed events whose row exists: their outcome is known now."""
    return tuple(event for event in unconfirmed if event.user_id in rows)


def _plan_republish(
    seen: ReconcileObservation, now: datetime, grace: timedelta
) -> tuple[tuple[int, ...], dict[int, CouponIssued], int]:
    """The recorded event for a user who has one (oldest first), else a fresh one; never two per user.

    A user without a recorded event waits for a zero lag (the event may still be on its
    way); a recorded one is resent after the grace period whatever the lag.
    """
    recorded: dict[int, CouponIssued] = {}
    for unsure in sorted(seen.unconfirmed, key=lambda event: event.issued_at):
        recorded.setdefault(unsure.user_id, unsure)
    republish: list[int] = []
    chosen: dict[int, CouponIssued] = {}
    waiting = 0
    for user_id in sorted((seen.gate_users | recorded.keys()) - seen.rows):
        event = recorded.get(user_id)
        if event is not None and (seen.lag == 0 or now - event.issued_at >= grace):
            republish.append(user_id)
            chosen[user_id] = event
        elif event is None and seen.lag == 0:
            republish.append(user_id)
        else:
            waiting += 1
    return tuple(republish), chosen, waiting


def _plan_rebuild(seen: ReconcileObservation) -> tuple[int | None, str | None]:
    """The stock to write back (`total - rows`), only once the database is the whole truth; else why not."""
    stock = max(seen.total_quantity - len(seen.rows), 0)
    if seen.gate_stock == stock and seen.gate_users == seen.rows:
        return None, None
    if seen.gate_stock is None and not seen.rows and not seen.gate_users:
        return None, "stock was never loaded: load it with `POST .../stock`"
    pending = (seen.gate_users - seen.rows) or {event.user_id for event in seen.unconfirmed} - seen.rows
    if seen.lag != 0 or pending:
        return None, f"gate stock not rebuilt: consumer lag is {seen.lag}, {len(pending)} users pending"
    return stock, None
