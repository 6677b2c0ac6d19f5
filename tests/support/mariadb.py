"""MariaDB as a fault driver: the connections of one test's database, to list, to kill, or to hold a session on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


@dataclass
class Mariadb:
    """Admin access scoped to one test database: it only ever sees and kills that database's connections."""

    database_url: str
    _admin: AsyncEngine = field(init=False)

    def __post_init__(self) -> None:
        url = make_url(self.database_url)
        self.database = url.database
        self._admin = create_async_engine(url.set(database=None), isolation_level="AUTOCOMMIT")

    async def connections(self, info_like: str = "%") -> list[tuple[int, str, str]]:
        """(id, state, statement) of every connection using this database, ours excluded."""
        query = text(
            "SELECT id, COALESCE(state, ''), COALESCE(info, '') FROM information_schema.processlist "
            "WHERE db = :db AND id <> CONNECTION_ID() AND COALESCE(info, '') LIKE :info"
        )
        async with self._admin.connect() as conn:
            rows = await conn.execute(query, {"db": self.database, "info": info_like})
            return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]

    async def kill(self, connection_id: int) -> None:
        assert connection_id in {found[0] for found in await self.connections()}, "only this database's connections"
        async with self._admin.connect() as conn:
            await conn.execute(text(f"KILL {int(connection_id)}"))

    @asynccontextmanager
    async def session(self, isolation: str = "READ COMMITTED") -> AsyncIterator[AsyncConnection]:
        """A connection of the test's own on the test database; the test begins and ends its transactions."""
        engine = create_async_engine(self.database_url, isolation_level=isolation)
        try:
            async with engine.connect() as conn:
                yield conn
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        await self._admin.dispose()


@asynccontextmanager
async def mariadb(database_url: str) -> AsyncIterator[Mariadb]:
    db = Mariadb(database_url)
    try:
        yield db
    finally:
        await db.dispose()
