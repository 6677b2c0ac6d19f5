"""The admission ledger in the `coupon.admission` column (MariaDB/MySQL or SQLite)."""

from __future__ import annotations

from sqlalchemy import select, update

from fcfs.adapters.sql.engine import SqlStore
from fcfs.adapters.sql.errors import storage_errors
from fcfs.adapters.sql.tables import coupon
from fcfs.ports.admission import AdmissionLedger


class SqlAdmissionLedger(SqlStore, AdmissionLedger):
    """The conditional UPDATE is the atomic step: only a NULL column takes a family.

    The value is read back in the same transaction (not taken from the rowcount, which
    on MySQL without `CLIENT_FOUND_ROWS` is 0 for an UPDATE that changes nothing).
    """

    async def claim(self, coupon_id: int, family: str) -> str | None:
        record = update(coupon).where(coupon.c.id == coupon_id, coupon.c.admission.is_(None)).values(admission=family)
        with storage_errors("recording the coupon's strategy family"):
            async with self._writer.begin() as conn:
                await conn.execute(record)
                row = (await conn.execute(select(coupon.c.admission).where(coupon.c.id == coupon_id))).first()
        return None if row is None else str(row.admission)

    async def family(self, coupon_id: int) -> str | None:
        with storage_errors("reading the coupon's strategy family"):
            async with self._engine.connect() as conn:
                found = (await conn.execute(select(coupon.c.admission).where(coupon.c.id == coupon_id))).scalar()
        return None if found is None else str(found)
