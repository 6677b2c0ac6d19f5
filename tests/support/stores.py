"""The storage ports over one backend, chosen by URL: MariaDB, SQLite, or one of the in-memory twins.

The contract suite runs the same tests over each; the race tests use the databases only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from fcfs.adapters.memory.innodb import InnoDbUnitOfWork
from fcfs.adapters.memory.store import (
    MemoryCouponRepository,
    MemoryDatabase,
    MemoryIssuedCouponRepository,
    MemoryUnitOfWork,
)
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.migrate import upgrade
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from fcfs.adapters.sql.uow import SqlUnitOfWork
from fcfs.domain.coupon import Coupon, NewCoupon
from fcfs.domain.events import CouponIssued
from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository, UnitOfWork

MEMORY = "memory:"  # the plain in-memory twin
INNODB_TWIN = "memory+innodb:"  # the in-memory twin with InnoDB's locking and commit timing


@dataclass
class Store:
    coupons: CouponRepository
    issued: IssuedCouponRepository
    uow: UnitOfWork
    engine: AsyncEngine | None = None


def sqlite_url(directory: object) -> str:
    return f"sqlite+aiosqlite:///{directory}/data/fcfs.db"


async def open_store(url: str, **pool: int | float) -> Store:
    """The three storage ports over `url` (a SQLite file is migrated first; MariaDB's test database already is)."""
    if url in (MEMORY, INNODB_TWIN):
        db = MemoryDatabase()
        uow = MemoryUnitOfWork(db) if url == MEMORY else InnoDbUnitOfWork(db)
        return Store(MemoryCouponRepository(db), MemoryIssuedCouponRepository(db), uow)
    if url.startswith("sqlite"):
        await upgrade(url)
    engine = create_engine(url, **pool)  # type: ignore[arg-type]
    return Store(SqlCouponRepository(engine), SqlIssuedCouponRepository(engine), SqlUnitOfWork(engine), engine)


@asynccontextmanager
async def opened_store(url: str, **pool: int | float) -> AsyncIterator[Store]:
    """`open_store`, its engine disposed on exit."""
    store = await open_store(url, **pool)
    try:
        yield store
    finally:
        if store.engine is not None:
            await store.engine.dispose()


def issued(coupon_id: int, user_id: int, event_id: str | None = None) -> CouponIssued:
    return CouponIssued(event_id or str(uuid.uuid4()), coupon_id, user_id, datetime.now(UTC))


async def coupon_of(store: Store, total: int = 10) -> Coupon:
    return await store.coupons.add(NewCoupon("Launch week", total))


async def issued_quantity(store: Store, coupon_id: int) -> int:
    found = await store.coupons.get(coupon_id)
    assert found is not None
    return found.issued_quantity
