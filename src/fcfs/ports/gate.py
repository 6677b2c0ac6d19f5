"""The atomic admission gate in front of persistence (Redis Lua, or its in-memory twin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.domain.issuance import GateVerdict


class IssuanceGate(Protocol):
    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        """Admit the user if the stock is loaded, the user is new and stock remains; one atomic step.

        Raises `GateError` when the gate cannot answer (nothing is then known to be admitted).
        """
        ...

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        """Undo exactly one admission: remove the user and give the unit back; False if not held."""
        ...

    async def load_stock(self, coupon_id: int, stock: int, issued_users: Iterable[int]) -> None:
        """Replace the coupon's gate state: `stock` units left, `issued_users` already admitted."""
        ...

    async def remaining(self, coupon_id: int) -> int | None:
        """Units left, or None when the stock was never loaded."""
        ...

    async def holds_user(self, coupon_id: int, user_id: int) -> bool: ...

    async def users(self, coupon_id: int) -> set[int]: ...

    async def forget(self, coupon_id: int) -> None:
        """Drop every key of the coupon."""
        ...
