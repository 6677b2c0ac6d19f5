"""The migrated schema, the engine's set-up, and failures surfacing as `StorageError`."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.health import SqlHealthCheck
from fcfs.adapters.sql.migrate import alembic_config, upgrade
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from fcfs.adapters.sql.tables import coupon, issued_coupon
from fcfs.adapters.sql.uow import SqlUnitOfWork
from fcfs.domain.coupon import NewCoupon, ValidityWindow
from fcfs.domain.errors import StorageError
from tests.support.stores import issued


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_upgrading_twice_leaves_one_schema_at_head(sql_engine: AsyncEngine, sql_url: str) -> None:
    await upgrade(sql_url)

    async with sql_engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert versions == [ScriptDirectory.from_config(alembic_config(sql_url)).get_current_head()]
    assert {"coupon", "issued_coupon"} <= tables


async def test_the_schema_refuses_a_second_row_for_the_same_user(sql_engine: AsyncEngine) -> None:
    created = await SqlCouponRepository(sql_engine).add(NewCoupon("Unique", 10))
    row = {"coupon_id": created.id, "user_id": 5, "issued_at": datetime.now(UTC)}
    async with sql_engine.begin() as conn:
        await conn.execute(insert(issued_coupon).values(row))

    with pytest.raises(IntegrityError):
        async with sql_engine.begin() as conn:
            await conn.execute(insert(issued_coupon).values(row))

    async with sql_engine.connect() as conn:
        rows = (await conn.execute(select(issued_coupon.c.id).where(issued_coupon.c.coupon_id == created.id))).all()
    assert len(rows) == 1


async def test_the_schema_refuses_a_row_for_a_missing_coupon(sql_engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with sql_engine.begin() as conn:
            await conn.execute(insert(issued_coupon).values(coupon_id=999, user_id=1, issued_at=datetime.now(UTC)))


async def test_times_come_back_in_utc_to_the_microsecond(sql_engine: AsyncEngine) -> None:
    seoul = timezone(timedelta(hours=9))
    starts = datetime(2031, 5, 1, 18, 30, 15, 123456, tzinfo=seoul)
    created = await SqlCouponRepository(sql_engine).add(NewCoupon("Zones", 10, ValidityWindow(starts_at=starts)))

    found = await SqlCouponRepository(sql_engine).get(created.id)

    assert found is not None
    assert found.window.starts_at == starts
    assert found.window.starts_at is not None
    assert found.window.starts_at.tzinfo is UTC
    assert found.window.starts_at.hour == 9
    async with sql_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT starts_at FROM coupon WHERE id = :id"), {"id": created.id})).scalar()
    assert str(stored).startswith("2031-05-01 09:30:15.123456")


async def test_ids_up_to_the_largest_64_bit_integer_are_stored(sql_engine: AsyncEngine) -> None:
    created = await SqlCouponRepository(sql_engine).add(NewCoupon("Big ids", 10))
    largest = 2**63 - 1
    repository = SqlIssuedCouponRepository(sql_engine)

    result = await repository.persist_capped([issued(created.id, largest)])

    assert len(result.inserted) == 1
    assert await repository.user_ids(created.id) == {largest}


async def test_the_coupon_issued_count_starts_at_zero_without_being_told(sql_engine: AsyncEngine) -> None:
    async with sql_engine.begin() as conn:
        result = await conn.execute(insert(coupon).values(name="Raw", total_quantity=3, created_at=datetime.now(UTC)))
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None

    found = await SqlCouponRepository(sql_engine).get(int(new_id or 0))
    assert found is not None
    assert found.issued_quantity == 0


async def test_a_row_added_in_a_transaction_carries_its_stored_id(sql_engine: AsyncEngine) -> None:
    created = await SqlCouponRepository(sql_engine).add(NewCoupon("Ids", 10))
    await SqlIssuedCouponRepository(sql_engine).persist_capped([issued(created.id, 1)])

    async with SqlUnitOfWork(sql_engine).begin() as tx:
        added = await tx.add_issued(created.id, 2)
        await tx.commit()

    stored = await SqlIssuedCouponRepository(sql_engine).find(created.id, 2)
    assert added is not None
    assert stored is not None
    assert added.id == stored.id
    assert abs(added.issued_at - stored.issued_at) < timedelta(milliseconds=1)


async def test_an_unsupported_database_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        create_engine("postgresql+asyncpg://localhost/fcfs")


async def test_a_reachable_database_is_healthy(sql_engine: AsyncEngine) -> None:
    check = SqlHealthCheck(sql_engine)

    await check.check()

    assert check.name == "database"


@pytest.mark.parametrize("scheme", ["mysql+aiomysql", "sqlite+aiosqlite"])
async def test_an_unreachable_database_raises_storage_error_with_the_driver_error_as_cause(
    scheme: str, tmp_path: Path
) -> None:
    if scheme.startswith("mysql"):
        url = f"{scheme}://root@127.0.0.1:{unused_port()}/fcfs"
    else:
        url = f"{scheme}:///{tmp_path}/unmigrated.db"  # opens, but every query fails: no tables
    engine = create_engine(url, pool_timeout=1.0)
    try:
        with pytest.raises(StorageError) as raised:
            await SqlCouponRepository(engine).get(1)
        assert isinstance(raised.value.__cause__, SQLAlchemyError)
        with pytest.raises(StorageError):
            await SqlIssuedCouponRepository(engine).persist_capped([issued(1, 1)])
        with pytest.raises(StorageError):
            async with SqlUnitOfWork(engine).begin() as tx:
                await tx.reserve_slot(1)
        if scheme.startswith("mysql"):
            with pytest.raises(StorageError):
                await SqlHealthCheck(engine, timeout=3.0).check()
    finally:
        await engine.dispose()


async def test_sqlite_creates_the_database_directory_and_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/deeper/fcfs.db"

    await upgrade(url)

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert int((await conn.execute(text("PRAGMA busy_timeout"))).scalar() or 0) > 0
        assert not SqlUnitOfWork(engine).supports_row_locks
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "deeper" / "fcfs.db").exists()


async def test_mariadb_supports_row_locks_and_reads_committed(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        assert SqlUnitOfWork(engine).supports_row_locks
        async with engine.connect() as conn:
            assert await conn.get_isolation_level() == "READ COMMITTED"
    finally:
        await engine.dispose()
