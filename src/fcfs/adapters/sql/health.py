"""Readiness of the database: one `SELECT 1` through the pool, bounded in time."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fcfs.adapters.readiness import TimedCheck
from fcfs.adapters.sql.errors import storage_errors
from fcfs.domain.errors import StorageError


class SqlHealthCheck(TimedCheck[AsyncEngine]):
    """Ready when the database answers within `timeout`; `StorageError` when it fails or is too slow."""

    name = "database"
    too_slow = StorageError

    async def _ask(self) -> None:
        with storage_errors("checking health"):
            async with self._client.connect() as conn:
                await conn.execute(text("SELECT 1"))
