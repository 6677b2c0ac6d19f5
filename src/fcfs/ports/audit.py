"""Where the audit trail is kept: an append-only log read per coupon, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.domain.audit import AuditEntry, NewAuditEntry


class AuditLog(Protocol):
    async def record(self, entry: NewAuditEntry) -> AuditEntry:
        """Append one entry durably (committed when this returns) and hand it back with its id."""
        ...

    async def entries(self, coupon_id: int, limit: int, before: int | None = None) -> Sequence[AuditEntry]:
        """Up to `limit` entries of the coupon with ids below `before` (all when None), newest first.

        Entries outlive their coupon: a deleted coupon's trail still reads back.
        """
        ...
