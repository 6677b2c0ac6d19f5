"""Arranging and inspecting the asynchronous pipeline in integration tests: topics, events, rows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from sqlalchemy import text

from fcfs.adapters.kafka.producer import KafkaIssuePublisher, open_producer
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.repositories import SqlCouponRepository
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.bootstrap.settings import Settings
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.events import CouponIssued

SettingsFactory = Callable[..., Settings]  # `lua_async(**overrides)` of the fault suite


def pipeline_settings(
    database_url: str, bootstrap: str, topics: tuple[str, str], data_dir: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap,
        "topic": topics[0],
        "dead_letter_topic": topics[1],
        "consumer_group": f"fcfs-t-{uuid.uuid4().hex[:8]}",
        "consumer_retry_max_seconds": 0.5,
        "producer_send_timeout": 5.0,
        "data_dir": str(data_dir),
    }
    values.update(overrides)
    return Settings(**values)


def pipeline_env(settings: Settings) -> dict[str, str]:
    """The `FCFS_*` variables that make a consumer process use `settings`."""
    names = [
        "database_url", "kafka_bootstrap_servers", "topic", "dead_letter_topic", "topic_partitions",
        "consumer_group", "consumer_batch", "consumer_max_rate", "consumer_retry_max_seconds", "data_dir",
    ]  # fmt: skip
    return {f"FCFS_{name.upper()}": str(getattr(settings, name)) for name in names}


def start_consumer(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`python -m fcfs.entrypoints.consumer` as a child on `settings`, its output appended to `log`."""
    env = {**os.environ, **pipeline_env(settings)}
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fcfs.entrypoints.consumer"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def create_coupon(database_url: str, total: int) -> int:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        return (await SqlCouponRepository(engine).add(NewCoupon("pipeline", total))).id
    finally:
        await engine.dispose()


def events_for(coupon_id: int, users: Iterable[int]) -> list[CouponIssued]:
    now = datetime.now(UTC)
    return [CouponIssued(str(uuid.uuid4()), coupon_id, user, now) for user in users]


async def publish_all(settings: Settings, events: Sequence[CouponIssued], concurrency: int = 500) -> None:
    await ensure_topics(settings)
    async with open_producer(settings.kafka_bootstrap_servers, linger_ms=5, request_timeout=10.0) as producer:
        publisher = KafkaIssuePublisher(producer, settings.topic, 10.0)
        for start in range(0, len(events), concurrency):
            await asyncio.gather(*(publisher.publish(event) for event in events[start : start + concurrency]))


async def produce_raw(settings: Settings, records: Sequence[tuple[bytes | None, bytes]], partition: int = 0) -> None:
    """Write records as another (buggy) producer would, bypassing the codec; all to one partition, in order."""
    await ensure_topics(settings)
    async with open_producer(settings.kafka_bootstrap_servers, linger_ms=5, request_timeout=10.0) as producer:
        for key, value in records:
            await producer.send_and_wait(settings.topic, value, key=key, partition=partition)


async def read_topic(bootstrap: str, topic: str, timeout: float = 20.0) -> list[Any]:
    """Every record on `topic` now, in partition order, read without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        async with asyncio.timeout(timeout):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def issued_pairs(database_url: str) -> list[tuple[int, int]]:
    """Every issued row as (coupon, user), duplicates included if there ever were any."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT coupon_id, user_id FROM issued_coupon ORDER BY id"))
            return [(int(row[0]), int(row[1])) for row in rows]
    finally:
        await engine.dispose()


async def issued_quantity(database_url: str, coupon_id: int) -> int:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            query = text("SELECT issued_quantity FROM coupon WHERE id = :id")
            return int((await conn.execute(query, {"id": coupon_id})).scalar_one())
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.2) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(interval)


def headers_of(record: Any) -> dict[str, bytes]:
    return dict(record.headers)
