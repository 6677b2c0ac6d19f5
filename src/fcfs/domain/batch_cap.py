"""The database cap of docs/design.md §6.5–6.6 as a decision over observed values.

Whoever persists a batch (the SQL adapter inside its row lock, the in-memory twin, the
consumer's use case) observes which users already have rows and how much room the
coupon has left, and asks this module what to do; the decision is then the same
everywhere and is tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Sequence
    from collections.abc import Set as AbstractSet

    from fcfs.domain.events import CouponIssued

T = TypeVar("T")


def first_per_user(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """The first item per key, in order: later ones in the same batch are redeliveries of the same grant."""
    seen: set[Hashable] = set()
    unique: list[T] = []
    for item in items:
        identity = key(item)
        if identity not in seen:
            seen.add(identity)
            unique.append(item)
    return unique


def room_under_cap(total_quantity: int, issued_quantity: int) -> int:
    """Rows the coupon may still receive; never negative, even if the count was already past the total."""
    return max(total_quantity - issued_quantity, 0)


@dataclass(frozen=True, slots=True)
class CapPlan:
    """One coupon's share of a batch: each event is in exactly one of the three."""

    insert: tuple[CouponIssued, ...]
    duplicates: tuple[str, ...]
    over_cap: tuple[str, ...]


def plan_capped_insert(events: Sequence[CouponIssued], users_with_rows: AbstractSet[int], room: int) -> CapPlan:
    """Which events of one coupon's batch to insert (invariants 1 and 2).

    A user who already has a row, or who appears earlier in the batch, is a duplicate;
    the others are inserted in batch order while `room` lasts, and the rest are over cap.
    """
    seen = set(users_with_rows)
    fresh: list[CouponIssued] = []
    duplicates: list[str] = []
    for event in events:
        if event.user_id in seen:
            duplicates.append(event.event_id)
        else:
            seen.add(event.user_id)
            fresh.append(event)
    fits = max(room, 0)
    return CapPlan(tuple(fresh[:fits]), tuple(duplicates), tuple(event.event_id for event in fresh[fits:]))
