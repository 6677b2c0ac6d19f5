"""The live controls' needs (pause, resume, close, top-up): the database's truth and the gate's mirror.

Two narrow ports beside the repositories and the gate, so the issue path's ports and the
adapters or fakes that only serve it are not widened for an operator's rare calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    from fcfs.domain.coupon_state import CouponState, StateMark


class CouponControls(Protocol):
    """The coupon row's state and total, changed by conditional updates (the database is the truth)."""

    async def change_state(
        self, coupon_id: int, target: CouponState, allowed_from: AbstractSet[CouponState]
    ) -> StateMark | None:
        """Move to `target` when the stored state is in `allowed_from`, bumping the version when it changes.

        Returns the state in force afterwards (read in the same transaction); None when the
        coupon does not exist. The update waits for row locks held by issuing transactions,
        so once it returns no SQL-coordinated attempt still sees the old state.
        """
        ...

    async def raise_total(self, coupon_id: int, old_total: int, new_total: int) -> bool:
        """`total_quantity := new_total` only while it is still `old_total`; False otherwise (or no coupon)."""
        ...


class GateControls(Protocol):
    """The gate's mirror of the state, and its stock raised in place."""

    async def mirror_state(self, coupon_id: int, mark: StateMark) -> None:
        """Hold `mark` unless the gate holds a newer version; read by every admission in the same step."""
        ...

    async def add_stock(self, coupon_id: int, units: int, total: int | None = None) -> int | None:
        """Add `units` to the loaded stock in one atomic step; the new stock, or None when none is loaded.

        With `total` (the coupon's total after the raise), only what it brings above the highest
        total the gate already accounts for is added, so a stock load that read the raised
        total meanwhile does not get the units twice (see `GateStock.load_stock`).
        """
        ...
