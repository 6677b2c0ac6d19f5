"""The pipeline's composition root: the consumer process and reconciliation (docs/design.md §5, §6.4-6.7).

`PipelineContainer` is the API's graph plus the consumer's and reconciliation's parts; each
entry point starts only the resources it uses (the consumer: the engine, and the producer for
dead letters).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from dependency_injector import providers

from fcfs.adapters.kafka.liveness import Heartbeat, heartbeat_age
from fcfs.bootstrap import backends
from fcfs.bootstrap.announcing_writer import announced_writer
from fcfs.bootstrap.audited_reconcile import AuditedReconcile
from fcfs.bootstrap.container import Container, resolved, settled
from fcfs.bootstrap.observability.instrumented_pipeline import (
    InstrumentedDeadLetters,
    consumer_lag_sampled,
    instrumented_batches,
)
from fcfs.domain.use_cases import ProcessIssuedBatch, Reconcile, RecordAdminAction

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiokafka import AIOKafkaProducer

    from fcfs.adapters.kafka.consumer import KafkaBatchConsumer
    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.bootstrap.settings import Settings
    from fcfs.domain.errors import StorageError
    from fcfs.domain.use_cases import ReconcileReport, StorageRetryHook
    from fcfs.ports.lag import ConsumerLag
    from fcfs.ports.publisher import DeadLetterPublisher
    from fcfs.ports.use_cases import Reconciles


def require_pipeline(settings: Settings, *, redis: bool = False) -> None:
    if not settings.kafka_bootstrap_servers:
        raise ValueError("the consumer needs a broker: set FCFS_KAFKA_BOOTSTRAP_SERVERS")
    if redis and not settings.redis_url:
        raise ValueError("reconciliation needs the Redis gate: set FCFS_REDIS_URL")


def consumer_heartbeat_path(settings: Settings) -> Path:
    """The consumer's liveness file, `<data_dir>/consumer.alive`: shared by the consumers of one data dir."""
    return Path(settings.data_dir) / "consumer.alive"


def consumer_heartbeat_age(settings: Settings, path: Path | None = None) -> float | None:
    """Seconds since a consumer last polled (None: none running); what `fcfs consume --check` reads."""
    return heartbeat_age(path or consumer_heartbeat_path(settings))


async def ensure_topics(settings: Settings) -> None:
    """Create `coupon.issued` and its dead-letter topic with `topic_partitions` partitions, unless they exist."""
    from fcfs.adapters.kafka.topics import ensure_topics as create

    require_pipeline(settings)
    partitions = {settings.topic: settings.topic_partitions, settings.dead_letter_topic: settings.topic_partitions}
    await create(settings.kafka_bootstrap_servers, partitions, timeout=max(settings.producer_send_timeout, 10.0))


def dead_letter_publisher(producer: AIOKafkaProducer, settings: Settings) -> DeadLetterPublisher:
    from fcfs.adapters.kafka.dead_letter import KafkaDeadLetterPublisher

    return KafkaDeadLetterPublisher(producer, settings.dead_letter_topic, settings.producer_send_timeout)


def logged_storage_retry(heartbeat: Heartbeat) -> StorageRetryHook:
    """Storage retries are the loop alive and waiting for the database: log them and count them as a beat."""
    log = structlog.get_logger("fcfs.consumer")

    def hook(attempt: int, error: StorageError, delay: float) -> None:
        heartbeat.beat()
        log.warning("batch_storage_failed_will_retry", attempt=attempt, error=error.detail, retry_in=delay)

    return hook


def kafka_batch_consumer(
    settings: Settings, process: ProcessIssuedBatch, heartbeat: Heartbeat, metrics: Metrics
) -> KafkaBatchConsumer:
    from fcfs.adapters.kafka.consumer import KafkaBatchConsumer

    return KafkaBatchConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.topic,
        group_id=settings.consumer_group,
        handler=instrumented_batches(process.execute, metrics),
        batch_size=settings.consumer_batch,
        max_rate=settings.consumer_max_rate,
        retry_max_seconds=settings.consumer_retry_max_seconds,
        heartbeat=heartbeat,
    )


def kafka_consumer_lag(settings: Settings) -> ConsumerLag:
    from fcfs.adapters.kafka.lag import KafkaConsumerLag

    return KafkaConsumerLag(settings.kafka_bootstrap_servers, settings.topic, settings.consumer_group)


class PipelineContainer(Container):
    heartbeat_path = providers.Dependency(instance_of=Path)
    heartbeat = providers.Singleton(Heartbeat, heartbeat_path)
    dead_letters = providers.Singleton(
        InstrumentedDeadLetters,
        providers.Singleton(dead_letter_publisher, Container.producer, Container.settings),
        Container.metrics,
    )
    announced_issued = providers.Singleton(  # each committed batch's results, pushed to listeners (docs/design.md §10)
        announced_writer,
        Container.issued,
        providers.Singleton(backends.result_notifier, Container.redis, Container.settings),
    )
    process_batch = providers.Singleton(
        ProcessIssuedBatch,
        announced_issued,
        dead_letters,
        retry_max_seconds=Container.settings.provided.consumer_retry_max_seconds,
        on_storage_retry=providers.Callable(logged_storage_retry, heartbeat),
    )
    batch_consumer = providers.Singleton(
        kafka_batch_consumer, Container.settings, process_batch, heartbeat, Container.metrics
    )
    lag = providers.Singleton(kafka_consumer_lag, Container.settings)
    reconcile = providers.Singleton(
        Reconcile,
        Container.coupons,
        Container.issued_rows,
        Container.gate_stock,
        Container.publisher,
        Container.unconfirmed,
        lag,
        Container.clock,
        grace_seconds=Container.settings.provided.reconcile_grace_seconds,
    )
    audited_reconcile = providers.Singleton(  # every run is an audit row (docs/operations.md, the audit trail)
        AuditedReconcile, reconcile, providers.Singleton(RecordAdminAction, Container.audit_log, Container.clock)
    )


@dataclass(frozen=True, slots=True)
class ConsumerServices:
    settings: Settings
    consumer: KafkaBatchConsumer  # `await consumer.run(stop)`
    process_batch: ProcessIssuedBatch


@asynccontextmanager
async def open_consumer_services(
    settings: Settings, *, heartbeat_path: Path | None = None, container: PipelineContainer | None = None
) -> AsyncIterator[ConsumerServices]:
    """The topics created, a database engine and a producer (for dead letters) started, the consumer built."""
    require_pipeline(settings)
    await ensure_topics(settings)
    path = heartbeat_path or consumer_heartbeat_path(settings)
    container = container or PipelineContainer(settings=settings, heartbeat_path=path)
    try:
        await settled(container.engine.init())
        await settled(container.producer.init())
        async with consumer_lag_sampled(container.lag(), container.metrics()):
            consumer, process = await resolved(container.batch_consumer), await resolved(container.process_batch)
            yield ConsumerServices(settings, consumer, process)
    finally:
        await settled(container.shutdown_resources())


@asynccontextmanager
async def open_reconcile(
    settings: Settings, container: PipelineContainer | None = None
) -> AsyncIterator[Reconciles[ReconcileReport]]:
    """`Reconcile` over the database, the Redis gate, the broker and the consumer group's lag; each run audited."""
    require_pipeline(settings, redis=True)
    container = container or PipelineContainer(settings=settings, heartbeat_path=consumer_heartbeat_path(settings))
    try:
        await settled(container.init_resources())
        audited = await resolved(container.audited_reconcile)
        yield audited
    finally:
        await settled(container.shutdown_resources())
