"""Mutual exclusion and admission limits the lock-based strategies wrap around a check-and-insert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractAsyncContextManager


class KeyedLock(Protocol):
    """Holds `key` (or one of a limited number of permits) for the duration of the block.

    Raises `WaitTimedOut` when it cannot be had within the adapter's bounded wait.
    Process-local adapters coordinate one process only; Redis adapters coordinate all.
    """

    def hold(self, key: str) -> AbstractAsyncContextManager[None]: ...


class SlotCounter(Protocol):
    """A process-local atomic counter of reserved units per coupon (the `atomic` strategy)."""

    async def reserve(self, coupon_id: int, limit: int, initial: Callable[[], Awaitable[int]]) -> bool:
        """Take one unit if fewer than `limit` are taken; `initial` seeds the count on first use."""
        ...

    async def release(self, coupon_id: int) -> None: ...
