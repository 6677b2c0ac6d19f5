"""The composition root: the only module that names concrete adapter classes.

Clients with a lifecycle (SQL engine, Redis pool, Kafka producer) are `Resource`s over
async generators; `open_services` starts them, resolves the use cases once and closes
everything on exit. A backend left unconfigured resolves to `None`, and the strategies
that need it are refused with that reason. Tests override any provider.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from fcfs.adapters.memory.clock import SystemClock
from fcfs.adapters.memory.locks import ProcessLock, ProcessSemaphore, ProcessSlotCounter, TimedProcessLock
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.health import SqlHealthCheck
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from fcfs.adapters.sql.uow import SqlUnitOfWork
from fcfs.bootstrap.bulkhead import Bulkhead, GuardedIssueCoupon
from fcfs.bootstrap.metered import (
    MeteredDeadLetters,
    MeteredIssueCoupon,
    bulkhead_observer,
    consumer_lag_sampled,
    metered_batches,
    watch_pool,
)
from fcfs.bootstrap.metrics import Metrics, process_metrics
from fcfs.bootstrap.settings import Settings
from fcfs.bootstrap.sold_out import FlagClearingDeleteCoupon, FlagClearingLoadStock, SoldOutFlags, SoldOutShortcut
from fcfs.bootstrap.strategies import StrategyRegistry, discover, scale_out
from fcfs.bootstrap.timed import TimedIssuedRepository, TimedUnitOfWork, timed_gate, timed_publisher
from fcfs.domain.services import (
    AuditCoupon,
    CouponWindows,
    CreateCoupon,
    DeleteCoupon,
    IssueCoupon,
    LoadStock,
    ReadCoupon,
    ReadUserIssue,
)
from fcfs.ports.health import DependencyCheck  # runtime: Litestar resolves `Services` hints
from fcfs.ports.idempotency import IdempotencyStore
from fcfs.ports.rate_limit import RateLimiter
from fcfs.ports.strategy import Capability, StrategyKit

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


async def _sql_engine(settings: Settings, metrics: Metrics) -> AsyncIterator[Any]:
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


async def _redis_client(settings: Settings) -> AsyncIterator[Any]:
    if not settings.redis_url:
        yield None
        return
    from fcfs.adapters.redis.client import create_client

    client = create_client(
        settings.redis_url,
        cluster=settings.redis_cluster,
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_timeout,
    )
    try:
        yield client
    finally:
        await client.aclose()


async def _kafka_producer(settings: Settings) -> AsyncIterator[Any]:
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


def _with_redis(client: Any, build: Any, *args: Any) -> Any:
    return None if client is None else build(client, *args)


def _redis_gate(client: Any, prefix: str, batching: bool) -> Any:
    from fcfs.adapters.redis.batching import BatchingRedisIssuanceGate
    from fcfs.adapters.redis.gate import RedisIssuanceGate

    return _with_redis(client, BatchingRedisIssuanceGate if batching else RedisIssuanceGate, prefix)


def _redis_lock(client: Any, settings: Settings, *, spin: bool) -> Any:
    from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock

    cls = RedisSpinLock if spin else RedisDistributedLock
    return _with_redis(client, cls, settings.redis_prefix, settings.lock_lease_seconds, settings.lock_wait_seconds)


def _redis_unconfirmed(client: Any, prefix: str) -> Any:
    from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents

    return _with_redis(client, RedisUnconfirmedEvents, prefix)


def _publisher(producer: Any, settings: Settings) -> Any:
    if producer is None:
        return None
    if settings.publish_batching:
        from fcfs.adapters.kafka.batching import BatchingKafkaPublisher

        return BatchingKafkaPublisher(
            producer, settings.topic, settings.producer_send_timeout, settings.producer_linger_ms / 1000
        )
    from fcfs.adapters.kafka.producer import KafkaIssuePublisher

    return KafkaIssuePublisher(producer, settings.topic, settings.producer_send_timeout)


def _idempotency(client: Any, settings: Settings) -> IdempotencyStore:
    """Redis when configured (shared by every instance), else the process's own twin."""
    answer_ttl, pending_ttl = settings.idempotency_ttl_seconds, settings.idempotency_pending_seconds
    if client is None:
        from fcfs.adapters.memory.idempotency import MemoryIdempotencyStore

        return MemoryIdempotencyStore(answer_ttl=answer_ttl, pending_ttl=pending_ttl)
    from fcfs.adapters.redis.idempotency import RedisIdempotencyStore

    return RedisIdempotencyStore(client, settings.redis_prefix, answer_ttl=answer_ttl, pending_ttl=pending_ttl)


def _rate_limiter(client: Any, settings: Settings) -> RateLimiter | None:
    """None (no cost at all) unless a limit is set; Redis when configured, so it holds across instances."""
    if settings.rate_limit_per_user <= 0 and settings.rate_limit_per_ip <= 0:
        return None
    if client is None:
        from fcfs.adapters.memory.rate_limit import MemoryRateLimiter

        return MemoryRateLimiter(settings.rate_limit_window_seconds)
    from fcfs.adapters.redis.rate_limit import RedisRateLimiter

    return RedisRateLimiter(client, settings.redis_prefix, settings.rate_limit_window_seconds)


def _capabilities(uow: SqlUnitOfWork, redis: Any, producer: Any) -> frozenset[Capability]:
    found = {Capability.SQL}
    if uow.supports_row_locks:
        found.add(Capability.ROW_LOCKS)
    if redis is not None:
        found.add(Capability.REDIS)
    if producer is not None:
        found.add(Capability.BROKER)
    return frozenset(found)


def _checks(engine: Any, redis: Any, producer: Any, settings: Settings) -> list[DependencyCheck]:
    checks: list[DependencyCheck] = [SqlHealthCheck(engine)]
    if redis is not None:
        from fcfs.adapters.redis.client import RedisHealthCheck

        checks.append(RedisHealthCheck(redis))
    if producer is not None:
        from fcfs.adapters.kafka.producer import KafkaHealthCheck

        checks.append(KafkaHealthCheck(producer))
    return checks


@dataclass(frozen=True, slots=True)
class Services:
    """Everything an entrypoint needs, resolved once per process."""

    settings: Settings
    strategies: StrategyRegistry
    create_coupon: CreateCoupon
    load_stock: LoadStock
    issue_coupon: IssueCoupon
    read_coupon: ReadCoupon
    read_user_issue: ReadUserIssue
    delete_coupon: DeleteCoupon
    audit_coupon: AuditCoupon
    checks: list[DependencyCheck]
    idempotency: IdempotencyStore
    rate_limiter: RateLimiter | None


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    strategy_factories = providers.Singleton(discover)

    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(process_metrics)
    engine = providers.Resource(_sql_engine, settings, metrics)
    redis = providers.Resource(_redis_client, settings)
    producer = providers.Resource(_kafka_producer, settings)

    coupons = providers.Singleton(SqlCouponRepository, engine)
    issued = providers.Singleton(TimedIssuedRepository, providers.Singleton(SqlIssuedCouponRepository, engine), metrics)
    uow = providers.Singleton(SqlUnitOfWork, engine)
    gate = providers.Singleton(
        timed_gate,
        providers.Singleton(_redis_gate, redis, settings.provided.redis_prefix, settings.provided.gate_batching),
        metrics,
    )
    publisher = providers.Singleton(timed_publisher, providers.Singleton(_publisher, producer, settings), metrics)
    unconfirmed = providers.Singleton(_redis_unconfirmed, redis, settings.provided.redis_prefix)

    kit = providers.Singleton(
        StrategyKit,
        clock=clock,
        uow=providers.Singleton(TimedUnitOfWork, uow, metrics),
        issued=issued,
        capabilities=providers.Callable(_capabilities, uow, redis, producer),
        process_lock=providers.Singleton(ProcessLock),
        timed_lock=providers.Singleton(TimedProcessLock, settings.provided.lock_wait_seconds),
        db_permits=providers.Singleton(
            ProcessSemaphore, settings.provided.db_permits, settings.provided.lock_wait_seconds
        ),
        slots=providers.Singleton(ProcessSlotCounter),
        gate=gate,
        distributed_lock=providers.Singleton(_redis_lock, redis, settings, spin=False),
        spin_lock=providers.Singleton(_redis_lock, redis, settings, spin=True),
        publisher=publisher,
        unconfirmed=unconfirmed,
    )
    strategies = providers.Singleton(
        StrategyRegistry, strategy_factories, kit, settings.provided.strategy, providers.Callable(scale_out, settings)
    )
    windows = providers.Singleton(CouponWindows, coupons)
    sold_out = providers.Singleton(SoldOutFlags, settings.provided.sold_out_ttl_seconds)
    bulkhead = providers.Singleton(
        Bulkhead,
        "issue",
        settings.provided.bulkhead_limit,
        settings.provided.bulkhead_wait_seconds,
        providers.Callable(bulkhead_observer, metrics),
    )

    services = providers.Singleton(
        Services,
        settings=settings,
        strategies=strategies,
        create_coupon=providers.Singleton(CreateCoupon, coupons),
        load_stock=providers.Singleton(
            FlagClearingLoadStock, providers.Singleton(LoadStock, coupons, issued, gate), sold_out
        ),
        # Outermost first: count every answer, answer sold out from the flag, then queue at the bulkhead.
        issue_coupon=providers.Singleton(
            MeteredIssueCoupon,
            providers.Singleton(
                SoldOutShortcut,
                providers.Singleton(
                    GuardedIssueCoupon, providers.Singleton(IssueCoupon, windows, strategies, clock), bulkhead
                ),
                sold_out,
            ),
            strategies,
            metrics,
        ),
        read_coupon=providers.Singleton(ReadCoupon, coupons, issued, gate),
        read_user_issue=providers.Singleton(ReadUserIssue, coupons, issued, gate),
        delete_coupon=providers.Singleton(
            FlagClearingDeleteCoupon, providers.Singleton(DeleteCoupon, coupons, gate, windows), sold_out
        ),
        audit_coupon=providers.Singleton(AuditCoupon, coupons, issued, gate),
        checks=providers.Callable(_checks, engine, redis, producer, settings),
        idempotency=providers.Singleton(_idempotency, redis, settings),
        rate_limiter=providers.Singleton(_rate_limiter, redis, settings),
    )


@asynccontextmanager
async def open_services(settings: Settings, container: Container | None = None) -> AsyncIterator[Services]:
    """Start the adapters, hand out the use cases, close the adapters on exit."""
    container = container or Container(settings=settings)
    await container.init_resources()  # type: ignore[misc]
    try:
        yield await container.services()  # type: ignore[misc]
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


async def migrate(settings: Settings) -> None:
    """Bring the configured database to the newest schema (idempotent)."""
    from fcfs.adapters.sql.migrate import upgrade

    await upgrade(settings.sqlalchemy_url)


@asynccontextmanager
async def open_memory_services(settings: Settings) -> AsyncIterator[Services]:
    """The same use cases over the in-process twins: for unit tests and the HTTP contract tests."""
    from fcfs.adapters.memory.gate import MemoryIssuanceGate
    from fcfs.adapters.memory.publisher import MemoryIssuePublisher, MemoryUnconfirmedEvents
    from fcfs.adapters.memory.store import (
        MemoryCouponRepository,
        MemoryDatabase,
        MemoryIssuedCouponRepository,
        MemoryUnitOfWork,
    )

    db = MemoryDatabase()
    coupons, issued, gate = MemoryCouponRepository(db), MemoryIssuedCouponRepository(db), MemoryIssuanceGate()
    kit = StrategyKit(
        clock=SystemClock(),
        uow=MemoryUnitOfWork(db),
        issued=issued,
        capabilities=frozenset(Capability),
        process_lock=ProcessLock(),
        timed_lock=TimedProcessLock(settings.lock_wait_seconds),
        db_permits=ProcessSemaphore(settings.db_permits, settings.lock_wait_seconds),
        slots=ProcessSlotCounter(),
        gate=gate,
        distributed_lock=TimedProcessLock(settings.lock_wait_seconds),
        spin_lock=TimedProcessLock(settings.lock_wait_seconds),
        publisher=MemoryIssuePublisher(),
        unconfirmed=MemoryUnconfirmedEvents(),
    )
    registry = StrategyRegistry(discover(), kit, settings.strategy, scale_out(settings))
    windows = CouponWindows(coupons)
    metrics, flags = process_metrics(), SoldOutFlags(settings.sold_out_ttl_seconds)
    bulkhead = Bulkhead("issue", settings.bulkhead_limit, settings.bulkhead_wait_seconds, bulkhead_observer(metrics))
    guarded = GuardedIssueCoupon(IssueCoupon(windows, registry, kit.clock), bulkhead)
    yield Services(
        settings=settings,
        strategies=registry,
        create_coupon=CreateCoupon(coupons),
        load_stock=FlagClearingLoadStock(LoadStock(coupons, issued, gate), flags),
        issue_coupon=MeteredIssueCoupon(SoldOutShortcut(guarded, flags), registry, metrics),
        read_coupon=ReadCoupon(coupons, issued, gate),
        read_user_issue=ReadUserIssue(coupons, issued, gate),
        delete_coupon=FlagClearingDeleteCoupon(DeleteCoupon(coupons, gate, windows), flags),
        audit_coupon=AuditCoupon(coupons, issued, gate),
        checks=[],
        idempotency=_idempotency(None, settings),
        rate_limiter=_rate_limiter(None, settings),
    )


# --- The pipeline: the consumer process and reconciliation (DESIGN.md §5, §6.4-6.7) ---------------------------

from pathlib import Path  # noqa: E402

from fcfs.domain.errors import StorageError  # noqa: E402
from fcfs.domain.services import ProcessIssuedBatch, Reconcile, StorageRetryHook  # noqa: E402


def _require_pipeline(settings: Settings, *, redis: bool = False) -> None:
    if not settings.kafka_bootstrap_servers:
        raise ValueError("the consumer needs a broker: set FCFS_KAFKA_BOOTSTRAP_SERVERS")
    if redis and not settings.redis_url:
        raise ValueError("reconciliation needs the Redis gate: set FCFS_REDIS_URL")


def consumer_heartbeat_path(settings: Settings) -> Path:
    """The consumer's liveness file, `<data_dir>/consumer.alive`: shared by the consumers of one data dir."""
    return Path(settings.data_dir) / "consumer.alive"


def consumer_heartbeat_age(settings: Settings, path: Path | None = None) -> float | None:
    """Seconds since a consumer last polled (None: none running); what `fcfs consume --check` reads."""
    from fcfs.adapters.kafka.liveness import heartbeat_age

    return heartbeat_age(path or consumer_heartbeat_path(settings))


def _dead_letters(producer: Any, settings: Settings) -> Any:
    from fcfs.adapters.kafka.dead_letter import KafkaDeadLetterPublisher

    return KafkaDeadLetterPublisher(producer, settings.dead_letter_topic, settings.producer_send_timeout)


def _heartbeat(path: Path | None) -> Any:
    from fcfs.adapters.kafka.liveness import Heartbeat

    return Heartbeat(path)


def _log_storage_retry(heartbeat: Any) -> StorageRetryHook:
    """Storage retries are the loop alive and waiting for the database: log them and count them as a beat."""
    import structlog

    log = structlog.get_logger("fcfs.consumer")

    def hook(attempt: int, error: StorageError, delay: float) -> None:
        heartbeat.beat()
        log.warning("batch_storage_failed_will_retry", attempt=attempt, error=error.detail, retry_in=delay)

    return hook


def _batch_consumer(settings: Settings, process: ProcessIssuedBatch, heartbeat: Any, metrics: Metrics) -> Any:
    from fcfs.adapters.kafka.consumer import KafkaBatchConsumer

    return KafkaBatchConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.topic,
        group_id=settings.consumer_group,
        handler=metered_batches(process.execute, metrics),
        batch_size=settings.consumer_batch,
        max_rate=settings.consumer_max_rate,
        retry_max_seconds=settings.consumer_retry_max_seconds,
        heartbeat=heartbeat,
    )


def _consumer_lag(settings: Settings) -> Any:
    from fcfs.adapters.kafka.lag import KafkaConsumerLag

    return KafkaConsumerLag(settings.kafka_bootstrap_servers, settings.topic, settings.consumer_group)


async def ensure_topics(settings: Settings) -> None:
    """Create `coupon.issued` and its dead-letter topic with `topic_partitions` partitions, unless they exist."""
    from fcfs.adapters.kafka.topics import ensure_topics as create

    _require_pipeline(settings)
    partitions = {settings.topic: settings.topic_partitions, settings.dead_letter_topic: settings.topic_partitions}
    await create(settings.kafka_bootstrap_servers, partitions, timeout=max(settings.producer_send_timeout, 10.0))


class PipelineContainer(Container):
    """The main container plus the consumer's and reconciliation's parts; both use only the resources they init."""

    heartbeat_path = providers.Dependency(instance_of=Path)
    heartbeat = providers.Singleton(_heartbeat, heartbeat_path)
    dead_letters = providers.Singleton(
        MeteredDeadLetters,
        providers.Singleton(_dead_letters, Container.producer, Container.settings),
        Container.metrics,
    )
    process_batch = providers.Singleton(
        ProcessIssuedBatch,
        Container.issued,
        dead_letters,
        retry_max_seconds=Container.settings.provided.consumer_retry_max_seconds,
        on_storage_retry=providers.Callable(_log_storage_retry, heartbeat),
    )
    batch_consumer = providers.Singleton(
        _batch_consumer, Container.settings, process_batch, heartbeat, Container.metrics
    )
    lag = providers.Singleton(_consumer_lag, Container.settings)
    reconcile = providers.Singleton(
        Reconcile,
        Container.coupons,
        Container.issued,
        Container.gate,
        Container.publisher,
        Container.unconfirmed,
        lag,
        Container.clock,
        grace_seconds=Container.settings.provided.reconcile_grace_seconds,
    )


@dataclass(frozen=True, slots=True)
class ConsumerServices:
    settings: Settings
    consumer: Any  # KafkaBatchConsumer: `await consumer.run(stop)`
    process_batch: ProcessIssuedBatch


@asynccontextmanager
async def open_consumer_services(
    settings: Settings, *, heartbeat_path: Path | None = None, container: PipelineContainer | None = None
) -> AsyncIterator[ConsumerServices]:
    """The topics created, a database engine and a producer (for dead letters) started, the consumer built."""
    _require_pipeline(settings)
    await ensure_topics(settings)
    path = heartbeat_path or consumer_heartbeat_path(settings)
    container = container or PipelineContainer(settings=settings, heartbeat_path=path)
    try:
        await container.engine.init()  # type: ignore[misc]
        await container.producer.init()  # type: ignore[misc]
        async with consumer_lag_sampled(container.lag(), container.metrics()):
            yield ConsumerServices(settings, await container.batch_consumer(), await container.process_batch())  # type: ignore[misc]
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


@asynccontextmanager
async def open_reconcile(settings: Settings, container: PipelineContainer | None = None) -> AsyncIterator[Reconcile]:
    """`Reconcile` over the database, the Redis gate, the broker and the consumer group's lag."""
    _require_pipeline(settings, redis=True)
    container = container or PipelineContainer(settings=settings, heartbeat_path=consumer_heartbeat_path(settings))
    try:
        await container.init_resources()  # type: ignore[misc]
        yield await container.reconcile()  # type: ignore[misc]
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
