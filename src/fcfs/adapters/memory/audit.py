"""The audit trail's in-memory twin: ids from 1 upwards, entries kept in order."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from fcfs.domain.audit import AuditEntry
from fcfs.ports.audit import AuditLog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.domain.audit import NewAuditEntry


class MemoryAuditLog(AuditLog):
    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._ids = itertools.count(1)
        self.failing: Exception | None = None  # tests: the next writes raise this (a database outage)

    async def record(self, entry: NewAuditEntry) -> AuditEntry:
        if self.failing is not None:
            raise self.failing
        recorded = AuditEntry.of(next(self._ids), entry)
        self._entries.append(recorded)
        return recorded

    async def entries(self, coupon_id: int, limit: int, before: int | None = None) -> Sequence[AuditEntry]:
        newest_first = reversed(self._entries)
        wanted = (e for e in newest_first if e.coupon_id == coupon_id and (before is None or e.id < before))
        return list(itertools.islice(wanted, limit))
