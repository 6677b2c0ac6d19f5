"""The pipeline state machine of `tests/support/issuance_machine.py` on real Redis + MariaDB, bounded.

Same rules and invariants; the gate is the batching Lua gate on Redis (as the container wires
it), the ledger of unconfirmed events lives in Redis beside it (so losing Redis loses both, as
in production), rows and the cap are MariaDB's. The broker stays the machine's list of records.
Each example gets a new coupon and its own key prefix, so examples never see each other.
"""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import text

from fcfs.adapters.redis.batched_gate import BatchingRedisIssuanceGate
from fcfs.adapters.redis.client import create_client
from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from tests.support.issuance_machine import IssuanceMachine, Stores

BOUNDED = settings(
    max_examples=30, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def real_stores(database_url: str, redis_url: str, prefix: str) -> Stores:
    """Built inside the machine's own event loop (engines and clients bind to the loop that uses them)."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    client = create_client(redis_url, max_connections=10, timeout=5.0)

    async def lose() -> None:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)

    async def row_users(coupon_id: int) -> list[int]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT user_id FROM issued_coupon WHERE coupon_id = :c ORDER BY id"), {"c": coupon_id}
            )
            return [int(row[0]) for row in rows]

    async def issued_quantity(coupon_id: int) -> int:
        async with engine.connect() as conn:
            query = text("SELECT issued_quantity FROM coupon WHERE id = :c")
            return int((await conn.execute(query, {"c": coupon_id})).scalar_one())

    async def close() -> None:
        await lose()
        await client.aclose()
        await engine.dispose()

    return Stores(
        SqlCouponRepository(engine),
        SqlIssuedCouponRepository(engine),
        BatchingRedisIssuanceGate(client, prefix),
        RedisUnconfirmedEvents(client, prefix),
        lose,
        row_users,
        issued_quantity,
        close,
    )


class RealStoresMachine(IssuanceMachine):
    database_url = ""
    redis_url = ""
    prefix_root = ""

    def build_stores(self) -> Stores:
        return real_stores(self.database_url, self.redis_url, f"{self.prefix_root}-{uuid.uuid4().hex[:6]}")


async def test_the_pipeline_state_machine_holds_every_invariant_on_real_redis_and_mariadb(
    database_url: str, redis_server_url: str, redis_prefix: str
) -> None:
    """15 random runs of up to 20 steps (issue, duplicate, broker faults, reload stock, Redis state lost,
    partial consumption with crashes before the commit, redelivery, reconciliation).

    Expected: after every step rows ≤ total, one row per user, the counter equals the rows, no
    row without an acceptance or a reconciliation, stock + users = total while the gate is
    loaded, no accepted user refused by the cap; at the end (drained and reconciled) every
    accepted user has a row (but the documented double-fault exemption of the unit machine).
    """
    machine = type(
        "Machine",
        (RealStoresMachine,),
        {"database_url": database_url, "redis_url": redis_server_url, "prefix_root": redis_prefix},
    )
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=BOUNDED)
