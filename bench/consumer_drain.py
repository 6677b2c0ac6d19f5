"""How fast the consumer drains `coupon.issued` into MariaDB, against the raw insert rate of the same rows.

    .venv/bin/python bench/consumer_drain.py [--events 20000] [--batches 100,500,2000]

Starts its own tansu broker, creates (and drops) its own database on the MariaDB at
`FCFS_BENCH_DATABASE_URL` (default `mysql+aiomysql://root@127.0.0.1:3306`), publishes
N events once, then for each batch size drains them with a fresh consumer group into an
emptied table, timing from the first batch handed to the use case to the last commit.
The raw rate is the same rows as plain multi-row `INSERT`s of the same batch size, one
transaction per batch, straight through SQLAlchemy: no broker, no lock, no cap, no
duplicate check. The ratio is what the pipeline's guarantees cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fcfs.adapters.kafka.consumer import KafkaBatchConsumer
from fcfs.adapters.kafka.dead_letter import KafkaDeadLetterPublisher
from fcfs.adapters.kafka.producer import KafkaIssuePublisher, open_producer
from fcfs.adapters.kafka.topics import ensure_topics
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.migrate import upgrade
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from fcfs.adapters.sql.tables import issued_coupon
from fcfs.bootstrap.embedded import start_tansu
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.events import CouponIssued
from fcfs.domain.services import ProcessIssuedBatch
from fcfs.ports.consumer import ConsumedBatch

TOPIC, DLT = "bench.coupon.issued", "bench.coupon.issued.dlt"


async def publish(bootstrap: str, events: list[CouponIssued]) -> float:
    async with open_producer(bootstrap, linger_ms=5, request_timeout=30.0) as producer:
        publisher = KafkaIssuePublisher(producer, TOPIC, 30.0)
        started = time.perf_counter()
        for start in range(0, len(events), 1_000):
            await asyncio.gather(*(publisher.publish(event) for event in events[start : start + 1_000]))
        return len(events) / (time.perf_counter() - started)


async def empty(engine: AsyncEngine, coupon_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM issued_coupon"))
        await conn.execute(text("UPDATE coupon SET issued_quantity = 0 WHERE id = :id"), {"id": coupon_id})


async def drain(bootstrap: str, engine: AsyncEngine, batch: int, total: int) -> float:
    async with open_producer(bootstrap, linger_ms=2, request_timeout=10.0) as producer:
        process = ProcessIssuedBatch(SqlIssuedCouponRepository(engine), KafkaDeadLetterPublisher(producer, DLT, 10.0))
        first_batch_at: list[float] = []

        async def timed(consumed: ConsumedBatch) -> object:
            if not first_batch_at:
                first_batch_at.append(time.perf_counter())
            return await process.execute(consumed)

        consumer = KafkaBatchConsumer(
            bootstrap_servers=bootstrap, topic=TOPIC, group_id=f"bench-{uuid.uuid4().hex[:8]}", handler=timed,
            batch_size=batch, poll_timeout=0.1,
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        while consumer.records_committed < total:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        finished = time.perf_counter()
        stop.set()
        await task
    return total / (finished - first_batch_at[0])


async def raw_inserts(engine: AsyncEngine, events: list[CouponIssued], batch: int) -> float:
    rows = [
        {"coupon_id": e.coupon_id, "user_id": e.user_id, "event_id": e.event_id, "issued_at": e.issued_at}
        for e in events
    ]
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        async with engine.begin() as conn:
            await conn.execute(insert(issued_coupon).values(rows[start : start + batch]))
    return len(rows) / (time.perf_counter() - started)


async def main(events_count: int, batches: list[int]) -> None:
    server = os.environ.get("FCFS_BENCH_DATABASE_URL", "mysql+aiomysql://root@127.0.0.1:3306")
    name = f"fcfs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}`"))
    broker = start_tansu()
    bootstrap = f"127.0.0.1:{broker.port}"
    engine = create_engine(f"{server}/{name}", pool_size=5)
    results: list[tuple[int, float, float]] = []
    try:
        await upgrade(f"{server}/{name}")
        await ensure_topics(bootstrap, {TOPIC: 3, DLT: 3})
        coupon_id = (await SqlCouponRepository(engine).add(NewCoupon("bench", events_count))).id
        now = datetime.now(UTC)
        events = [CouponIssued(str(uuid.uuid4()), coupon_id, user, now) for user in range(1, events_count + 1)]
        print(f"published {events_count} events at {await publish(bootstrap, events):,.0f}/s")
        for batch in batches:
            await empty(engine, coupon_id)
            consumed = await drain(bootstrap, engine, batch, events_count)
            await empty(engine, coupon_id)
            raw = await raw_inserts(engine, events, batch)
            results.append((batch, consumed, raw))
    finally:
        await engine.dispose()
        broker.stop()
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()
    report(events_count, results)


def report(events_count: int, results: list[tuple[int, float, float]]) -> None:
    print(f"\n{events_count} events, 3 partitions, MariaDB; events/s")
    print(f"{'batch':>6} {'consumer':>10} {'raw INSERT':>11} {'consumer/raw':>13}")
    for batch, consumed, raw in results:
        print(f"{batch:>6} {consumed:>10,.0f} {raw:>11,.0f} {consumed / raw:>13.2f}")


def parse() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batches", default="100,500,2000")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse()
    asyncio.run(main(args.events, [int(b) for b in args.batches.split(",")]))
