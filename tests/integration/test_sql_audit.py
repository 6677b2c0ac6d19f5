"""The audit trail in `admin_audit` (migration 0004) on MariaDB and SQLite: round trip, paging, index, outliving its coupon."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from fcfs.adapters.sql.audit import SqlAuditLog
from fcfs.adapters.sql.engine import for_writes
from fcfs.adapters.sql.migrate import alembic_config, upgrade
from fcfs.adapters.sql.repositories import SqlCouponRepository
from fcfs.domain.audit import AdminAction, NewAuditEntry
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.use_cases import ReadAuditTrail

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def entry(
    coupon_id: int | None, action: AdminAction = AdminAction.PAUSE, request_id: str | None = "req-1"
) -> NewAuditEntry:
    parameters = {"add": 3, "note": "größer ✓", "nested": {"list": [1, None]}}
    return NewAuditEntry(action, coupon_id, parameters, "200", request_id, "2001:db8::1", "admin", MOMENT)


async def test_an_entry_reads_back_exactly_as_recorded(sql_engine: AsyncEngine) -> None:
    log = SqlAuditLog(sql_engine)
    recorded = await log.record(entry(4, AdminAction.TOP_UP))
    no_request = await log.record(entry(4, AdminAction.RECONCILE, request_id=None))

    assert list(await log.entries(4, 10)) == [no_request, recorded]
    assert recorded.at == MOMENT  # microseconds and UTC survive DATETIME(6)
    assert recorded.parameters == {"add": 3, "note": "größer ✓", "nested": {"list": [1, None]}}


async def test_entries_page_newest_first_by_id_and_stay_per_coupon(sql_engine: AsyncEngine) -> None:
    log = SqlAuditLog(sql_engine)
    mine = [(await log.record(entry(coupon))).id for coupon in (1, 2, 1, 1, 2, 1, 1)]
    ids_of_1 = [entry_id for entry_id, coupon in zip(mine, (1, 2, 1, 1, 2, 1, 1), strict=True) if coupon == 1]
    newest_first = ids_of_1[::-1]

    assert [e.id for e in await log.entries(1, 100)] == newest_first
    assert [e.id for e in await log.entries(1, 2)] == newest_first[:2]
    assert [e.id for e in await log.entries(1, 2, before=newest_first[1])] == newest_first[2:4]
    assert await log.entries(3, 10) == []


async def test_the_read_use_case_walks_every_page_once(sql_engine: AsyncEngine) -> None:
    log, coupons = SqlAuditLog(sql_engine), SqlCouponRepository(sql_engine)
    coupon = await coupons.add(NewCoupon("audited", 5))
    recorded = [(await log.record(entry(coupon.id))).id for _ in range(7)]
    read = ReadAuditTrail(log, coupons)

    seen: list[int] = []
    before: int | None = None
    while True:
        page = await read.execute(coupon.id, limit=3, before=before)
        seen += [e.id for e in page.entries]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == recorded[::-1]


async def test_the_trail_outlives_its_coupon(sql_engine: AsyncEngine) -> None:
    log, coupons = SqlAuditLog(sql_engine), SqlCouponRepository(sql_engine)
    coupon = await coupons.add(NewCoupon("short-lived", 5))
    await log.record(entry(coupon.id, AdminAction.CREATE))
    await coupons.delete(coupon.id)
    await log.record(entry(coupon.id, AdminAction.DELETE))
    page = await ReadAuditTrail(log, coupons).execute(coupon.id)
    assert [e.action for e in page.entries] == [AdminAction.DELETE, AdminAction.CREATE]


async def test_the_table_has_its_coupon_and_id_index(sql_engine: AsyncEngine) -> None:
    async with sql_engine.connect() as conn:
        indexes = await conn.run_sync(lambda sync: inspect(sync).get_indexes("admin_audit"))
    assert any(index["column_names"] == ["coupon_id", "id"] for index in indexes)


def _downgrade(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_migration_0004_goes_down_to_0003_and_up_again(sql_engine: AsyncEngine, sql_url: str) -> None:
    await SqlAuditLog(sql_engine).record(entry(1))
    async with for_writes(sql_engine).begin() as conn:
        await conn.run_sync(_downgrade, sql_url, "0003")
    async with sql_engine.connect() as conn:
        assert "admin_audit" not in await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == "0003"
    await upgrade(sql_url)
    assert await SqlAuditLog(sql_engine).entries(1, 10) == []
