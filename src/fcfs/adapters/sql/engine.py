"""The async engine every SQL adapter runs on, set up so the adapters' guarantees hold.

MariaDB/MySQL: READ COMMITTED (a locking read followed by plain reads sees what other
batches committed), pre-ping and recycle, and connections *without* `CLIENT_FOUND_ROWS`,
so an `INSERT ... ON DUPLICATE KEY UPDATE id = id` reports 1 per row it inserted and 0 per
row the unique key refused: the adapters count inserts from that rowcount.

SQLite: WAL, a busy timeout, foreign keys, and transactions begun by SQLAlchemy itself.
SQLite has no row locks, so a transaction opened through `for_writes(engine)` begins with
`BEGIN IMMEDIATE`, taking the database's single write lock up front. Writers therefore
run one at a time, in this process and in every other process sharing the file, and a
read-check-write inside one of them cannot interleave with another's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fcfs.adapters.sql.tables import MYSQL_DIALECTS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.engine.url import URL
    from sqlalchemy.pool import ConnectionPoolEntry

WRITE_OPTION = "fcfs_write"
CLIENT_FOUND_ROWS = 2  # MySQL protocol capability flag (pymysql.constants.CLIENT.FOUND_ROWS)
POOL_RECYCLE_SECONDS = 1800


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 10,
    pool_timeout: float = 5.0,
    lock_timeout: float = 30.0,
) -> AsyncEngine:
    """An engine for `mysql+aiomysql://...` or `sqlite+aiosqlite:///path` URLs.

    `lock_timeout` bounds how long a statement waits for a lock: InnoDB's lock wait on
    MySQL, the busy timeout on SQLite (where it also covers waiting for the write lock).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, pool_size, max_overflow, pool_timeout, lock_timeout)
    if backend not in MYSQL_DIALECTS:
        raise ValueError(f"unsupported database {backend!r}: use mysql+aiomysql:// or sqlite+aiosqlite:///")
    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        pool_recycle=POOL_RECYCLE_SECONDS,
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": max(int(pool_timeout), 1)},
    )
    _mysql_events(engine, max(int(lock_timeout), 1))
    return engine


def for_writes(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) whose transactions take SQLite's write lock as they begin.

    A no-op for databases with row locks, where each statement locks what it touches.
    """
    return engine.execution_options(**{WRITE_OPTION: True})


class SqlStore:
    """The base of the adapters over one pool: `_engine` reads, `_writer` opens the transactions that write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writes(engine)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_engine(
    url: URL, pool_size: int, max_overflow: int, pool_timeout: float, lock_timeout: float
) -> AsyncEngine:
    database = url.database or ""
    pooled: dict[str, Any] = {}
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        pooled = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    engine = create_async_engine(url, **pooled)
    busy_ms = max(int(lock_timeout * 1000), 1)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _mysql_events(engine: AsyncEngine, lock_wait_seconds: int) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _without_found_rows(_dialect: Dialect, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["client_flag"] = cparams.get("client_flag", 0) & ~CLIENT_FOUND_ROWS

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {lock_wait_seconds}")
        finally:
            cursor.close()
