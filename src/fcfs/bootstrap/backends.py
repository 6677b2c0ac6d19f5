"""The factories the containers call: clients with a lifecycle, and the adapters built on them.

Each is typed by the port (or the concrete client) it returns. A backend left unconfigured
yields `None`, and everything built on it is `None` too, so the strategies that need it are
refused with that reason. Redis and Kafka adapters are imported only when configured, so a
process without them pays nothing for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.health import SqlHealthCheck
from fcfs.bootstrap.observability.gauges import watch_pool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiokafka import AIOKafkaProducer
    from sqlalchemy.ext.asyncio import AsyncEngine

    from fcfs.adapters.redis.client import RedisClient
    from fcfs.adapters.redis.gate import RedisIssuanceGate
    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.bootstrap.settings import Settings
    from fcfs.ports.health import DependencyCheck
    from fcfs.ports.idempotency import IdempotencyStore
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.notifications import IssueNotifier, IssueResults
    from fcfs.ports.publisher import IssueEventPublisher, UnconfirmedEvents
    from fcfs.ports.rate_limit import RateLimiter


async def sql_engine(settings: Settings, metrics: Metrics) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
    watch_pool(engine, metrics)
    try:
        yield engine
    finally:
        await engine.dispose()


async def redis_client(settings: Settings) -> AsyncIterator[RedisClient | None]:
    client = configured_redis(settings)
    try:
        yield client
    finally:
        if client is not None:
            await client.aclose()


def configured_redis(settings: Settings) -> RedisClient | None:
    if not settings.redis_url:
        return None
    from fcfs.adapters.redis.client import create_client

    return create_client(
        settings.redis_url,
        cluster=settings.redis_cluster,
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_timeout,
    )


async def kafka_producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer | None]:
    if not settings.kafka_bootstrap_servers:
        yield None
        return
    from fcfs.adapters.kafka.producer import open_producer

    async with open_producer(
        settings.kafka_bootstrap_servers,
        linger_ms=settings.producer_linger_ms,
        request_timeout=settings.producer_send_timeout,
    ) as producer:
        yield producer


def redis_gate(client: RedisClient | None, prefix: str, batching: bool) -> RedisIssuanceGate | None:
    """One gate for both ports: the hot path (`IssuanceGate`) and stock administration (`GateStock`)."""
    if client is None:
        return None
    if batching:
        from fcfs.adapters.redis.batched_gate import BatchingRedisIssuanceGate

        return BatchingRedisIssuanceGate(client, prefix)
    from fcfs.adapters.redis.gate import RedisIssuanceGate

    return RedisIssuanceGate(client, prefix)


def redis_lock(client: RedisClient | None, settings: Settings, *, spin: bool) -> KeyedLock | None:
    if client is None:
        return None
    from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock

    kind = RedisSpinLock if spin else RedisDistributedLock
    return kind(client, settings.redis_prefix, settings.lock_lease_seconds, settings.lock_wait_seconds)


def unconfirmed_events(client: RedisClient | None, prefix: str) -> UnconfirmedEvents | None:
    if client is None:
        return None
    from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents

    return RedisUnconfirmedEvents(client, prefix)


def publisher(producer: AIOKafkaProducer | None, settings: Settings) -> IssueEventPublisher | None:
    if producer is None:
        return None
    if settings.publish_batching:
        from fcfs.adapters.kafka.batched_publisher import BatchingKafkaPublisher

        linger = settings.producer_linger_ms / 1000
        return BatchingKafkaPublisher(producer, settings.topic, settings.producer_send_timeout, linger)
    from fcfs.adapters.kafka.producer import KafkaIssuePublisher

    return KafkaIssuePublisher(producer, settings.topic, settings.producer_send_timeout)


def idempotency_store(client: RedisClient | None, settings: Settings) -> IdempotencyStore:
    """Redis when configured (shared by every instance), else the process's own twin."""
    answer_ttl, pending_ttl = settings.idempotency_ttl_seconds, settings.idempotency_pending_seconds
    if client is None:
        from fcfs.adapters.memory.idempotency import MemoryIdempotencyStore

        return MemoryIdempotencyStore(answer_ttl=answer_ttl, pending_ttl=pending_ttl)
    from fcfs.adapters.redis.idempotency import RedisIdempotencyStore

    return RedisIdempotencyStore(client, settings.redis_prefix, answer_ttl=answer_ttl, pending_ttl=pending_ttl)


def rate_limiter(client: RedisClient | None, settings: Settings) -> RateLimiter | None:
    """None (no cost at all) unless a limit is set; Redis when configured, so it holds across instances."""
    if settings.rate_limit_per_user <= 0 and settings.rate_limit_per_ip <= 0:
        return None
    if client is None:
        from fcfs.adapters.memory.rate_limit import MemoryRateLimiter

        return MemoryRateLimiter(settings.rate_limit_window_seconds)
    from fcfs.adapters.redis.rate_limit import RedisRateLimiter

    return RedisRateLimiter(client, settings.redis_prefix, settings.rate_limit_window_seconds)


def health_checks(
    engine: AsyncEngine | None, redis: RedisClient | None, producer: AIOKafkaProducer | None
) -> list[DependencyCheck]:
    """What `/ready` asks: each configured backend once (none for the in-memory twins)."""
    checks: list[DependencyCheck] = []
    if engine is not None:
        checks.append(SqlHealthCheck(engine))
    if redis is not None:
        from fcfs.adapters.redis.client import RedisHealthCheck

        checks.append(RedisHealthCheck(redis))
    if producer is not None:
        from fcfs.adapters.kafka.producer import KafkaHealthCheck

        checks.append(KafkaHealthCheck(producer))
    return checks


def result_notifier(client: RedisClient | None, settings: Settings) -> IssueNotifier | None:
    """The consumer's announcer of committed results; None without Redis (listeners then end on their state read)."""
    if client is None:
        return None
    from fcfs.adapters.redis.result_channel import RedisIssueNotifier

    return RedisIssueNotifier(client, settings.redis_prefix, sharded=settings.redis_cluster)


async def issue_results(client: RedisClient | None, settings: Settings) -> AsyncIterator[IssueResults]:
    """The worker's one subscription per coupon with listeners; the in-process twin without Redis."""
    if client is None:
        from fcfs.adapters.memory.results import MemoryIssueResults

        yield MemoryIssueResults()
        return
    from fcfs.adapters.redis.result_fanout import RedisIssueResults

    fanout = RedisIssueResults(
        client, settings.redis_prefix, sharded=settings.redis_cluster, confirm_timeout=settings.redis_timeout
    )
    try:
        yield fanout
    finally:
        await fanout.aclose()
