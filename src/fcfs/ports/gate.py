"""The atomic admission gate in front of persistence (Redis Lua, or its in-memory twin).

Two ports, because two kinds of caller: the issue path needs only to admit and to give
an admission back (`IssuanceGate`), and wrappers on that path (timing, batching) should
not have to pass anything else through; the admin and read use cases load, read and
drop the gate's state (`GateStock`). One adapter usually provides both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.domain.coupon_state import StateMark
    from fcfs.domain.issuance import GateVerdict


class IssuanceGate(Protocol):
    """The hot path: one atomic admission per attempt, and its exact undo."""

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        """Admit the user if the coupon is open, its stock loaded, the user new and stock left; one atomic step.

        A paused coupon answers `PAUSED`, a closed one `CLOSED`, before anything else is looked at.

        Raises `GateError` when the gate cannot answer (nothing is then known to be admitted).
        """
        ...

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        """Undo exactly one admission: remove the user and give the unit back; False if not held."""
        ...


class GateStock(Protocol):
    """Stock administration: what the gate holds for a coupon, read and replaced outside the hot path."""

    async def load_stock(
        self,
        coupon_id: int,
        stock: int,
        issued_users: Iterable[int],
        state: StateMark | None = None,
        total: int | None = None,
    ) -> None:
        """Replace the coupon's gate state: `stock` units left, `issued_users` already admitted.

        With `state`, the coupon's open/paused/closed mirror is written in the same atomic
        step (unless the gate holds a newer version), so stock never appears without it.
        With `total` (the coupon's total `stock` was computed from), a top-up that raised the
        total after it was read keeps its units: they are added to `stock`, not overwritten.
        """
        ...

    async def remaining(self, coupon_id: int) -> int | None:
        """Units left, or None when the stock was never loaded."""
        ...

    async def holds_user(self, coupon_id: int, user_id: int) -> bool: ...

    async def users(self, coupon_id: int) -> set[int]: ...

    async def forget(self, coupon_id: int) -> None:
        """Drop every key of the coupon."""
        ...
