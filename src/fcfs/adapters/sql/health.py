"""Readiness of the database: one `SELECT 1` through the pool, bounded in time."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import text

from fcfs.adapters.sql.errors import storage_errors
from fcfs.domain.errors import StorageError
from fcfs.ports.health import DependencyCheck

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class SqlHealthCheck(DependencyCheck):
    name = "database"

    def __init__(self, engine: AsyncEngine, timeout: float = 2.0) -> None:
        self._engine = engine
        self._timeout = timeout

    async def check(self) -> None:
        """Return when the database answers; raise `StorageError` when it fails or is too slow."""
        try:
            async with asyncio.timeout(self._timeout):
                with storage_errors("checking health"):
                    async with self._engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
        except TimeoutError as exc:
            raise StorageError(f"database did not answer within {self._timeout}s") from exc
