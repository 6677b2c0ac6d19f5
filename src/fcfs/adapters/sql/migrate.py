"""Bring a database to the newest schema with alembic, from code (no alembic.ini needed).

The migrations travel inside the package, so this works from a source tree and from an
installed wheel alike. Running it again on an up-to-date database changes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config

from fcfs.adapters.sql.engine import create_engine, for_writes
from fcfs.adapters.sql.errors import storage_errors

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate `url` (`mysql+aiomysql://...` or `sqlite+aiosqlite:///...`) up to `revision`.

    On SQLite the migration holds the write lock, so processes migrating one file at once
    take turns. Raises `StorageError` when the database fails.
    """
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        with storage_errors("migrating"):
            async with for_writes(engine).begin() as conn:
                await conn.run_sync(_upgrade, alembic_config(url), revision)
    finally:
        await engine.dispose()


def upgrade_sync(url: str, revision: str = "head") -> None:
    """`upgrade` for callers without an event loop (the CLI, a launcher before it forks)."""
    asyncio.run(upgrade(url, revision))


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
