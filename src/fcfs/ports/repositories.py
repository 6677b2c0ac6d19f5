"""Storage capabilities. Strategies compose these; adapters (SQL, memory) provide them.

Adapters raise `StorageError` (never a driver's exception) when the database fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractAsyncContextManager

    from fcfs.domain.coupon import Coupon, IssuedCoupon, NewCoupon
    from fcfs.domain.events import CouponIssued
    from fcfs.domain.issuance import PersistResult


class CouponRepository(Protocol):
    async def add(self, new: NewCoupon) -> Coupon: ...

    async def get(self, coupon_id: int) -> Coupon | None: ...

    async def delete(self, coupon_id: int) -> bool:
        """Remove the coupon and its issued rows; False when it did not exist."""
        ...


class IssuedCouponRepository(Protocol):
    """Reads of the issued rows, for the read, admin and reconcile use cases."""

    async def find(self, coupon_id: int, user_id: int) -> IssuedCoupon | None: ...

    async def count(self, coupon_id: int) -> int: ...

    async def user_ids(self, coupon_id: int) -> set[int]: ...


class IssuedBatchWriter(Protocol):
    """Batch persistence, the consumer's only need of the database (and `lua`'s batch of one)."""

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        """Persist a batch, one transaction per coupon, idempotently and never past a coupon's total.

        Locks each coupon row (in id order, so concurrent batches cannot deadlock on each
        other), skips users that already have a row, inserts only the new ones that fit
        under `total_quantity`, adds their count to `issued_quantity`, commits. Protects
        invariants 1 and 2 even when the gate in front lost its state.
        """
        ...


class IssuedCoupons(IssuedCouponRepository, IssuedBatchWriter, Protocol):
    """Both, for the strategy kit: `atomic` counts rows and `lua` persists its event."""


class IssuanceTransaction(Protocol):
    """One database transaction as the SQL-coordinated strategies use it."""

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        """Read the coupon; with `for_update` hold its row lock until commit or rollback."""
        ...

    async def count_issued(self, coupon_id: int) -> int: ...

    async def has_issued(self, coupon_id: int, user_id: int) -> bool: ...

    async def reserve_slot(self, coupon_id: int) -> bool:
        """`issued_quantity += 1` only while below `total_quantity`, in one statement."""
        ...

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        """Unconditional increment: what the unsafe strategies do."""
        ...

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        """Insert the row; None when the user already has one (the unique key held)."""
        ...

    async def commit(self) -> None: ...


class UnitOfWork(Protocol):
    @property
    def supports_row_locks(self) -> bool: ...

    def begin(self) -> AbstractAsyncContextManager[IssuanceTransaction]:
        """A transaction that rolls back on exit unless committed."""
        ...
