"""The audit trail in the `admin_audit` table (MariaDB/MySQL or SQLite).

Parameters are stored as JSON text (sorted keys), not as a JSON column: MariaDB's JSON is a
LONGTEXT alias and SQLite has none, and nothing queries inside them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from fcfs.adapters.sql.engine import SqlStore
from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.tables import admin_audit
from fcfs.domain.audit import AdminAction, AuditEntry
from fcfs.ports.audit import AuditLog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Row

    from fcfs.domain.audit import NewAuditEntry


class SqlAuditLog(SqlStore, AuditLog):
    async def record(self, entry: NewAuditEntry) -> AuditEntry:
        values = {
            "action": entry.action.value,
            "coupon_id": entry.coupon_id,
            "parameters": json.dumps(entry.parameters, sort_keys=True, default=str, ensure_ascii=False),
            "outcome": entry.outcome,
            "request_id": entry.request_id,
            "client_address": entry.client_address,
            "actor": entry.actor,
            "created_at": entry.at,
        }
        with storage_errors("recording an admin action"):
            async with self._writer.begin() as conn:
                result = await conn.execute(insert(admin_audit).values(values))
                entry_id = int(result.lastrowid)
        return AuditEntry.of(entry_id, entry)

    async def entries(self, coupon_id: int, limit: int, before: int | None = None) -> Sequence[AuditEntry]:
        query = select(admin_audit).where(admin_audit.c.coupon_id == coupon_id)
        if before is not None:
            query = query.where(admin_audit.c.id < before)
        query = query.order_by(admin_audit.c.id.desc()).limit(limit)
        with storage_errors("reading the audit trail"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [_entry(row) for row in rows]


def _entry(row: Row[Any]) -> AuditEntry:
    parameters = json.loads(row.parameters)
    return AuditEntry(
        id=int(row.id),
        action=AdminAction(row.action),
        coupon_id=row.coupon_id,
        parameters=parameters if isinstance(parameters, dict) else {"value": parameters},
        outcome=row.outcome,
        request_id=row.request_id,
        client_address=row.client_address,
        actor=row.actor,
        at=row.created_at,
    )
