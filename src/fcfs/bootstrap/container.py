"""The API's composition root: one dependency-injector graph, from backends to the decorated use cases.

Clients with a lifecycle (SQL engine, Redis pool, Kafka producer) are `Resource`s over async
generators (`backends`); `open_services` starts them, resolves the use cases once and closes
everything on exit. The in-memory services are this same graph with the backend providers
overridden (`use_memory_backends`), so the decorator chain is wired once. Tests override any
provider the same way.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from fcfs.adapters.memory.clock import SystemClock
from fcfs.adapters.memory.locks import ProcessLock, ProcessSemaphore, ProcessSlotCounter, TimedProcessLock
from fcfs.adapters.sql.admission import SqlAdmissionLedger
from fcfs.adapters.sql.audit import SqlAuditLog
from fcfs.adapters.sql.controls import SqlCouponControls
from fcfs.adapters.sql.repositories import SqlCouponRepository, SqlIssuedCouponRepository
from fcfs.adapters.sql.uow import SqlUnitOfWork
from fcfs.bootstrap import backends, live, preflight
from fcfs.bootstrap.bulkhead import Bulkhead, GuardedIssueCoupon
from fcfs.bootstrap.observability.gauges import bulkhead_observer
from fcfs.bootstrap.observability.instrumented_gate import instrumented_gate
from fcfs.bootstrap.observability.instrumented_issue import InstrumentedIssueCoupon
from fcfs.bootstrap.observability.instrumented_publisher import instrumented_publisher
from fcfs.bootstrap.observability.instrumented_storage import InstrumentedIssuedRepository, InstrumentedUnitOfWork
from fcfs.bootstrap.observability.metrics import process_metrics
from fcfs.bootstrap.plugins import StrategyRegistry, discover, scale_out
from fcfs.bootstrap.services import Services, resolved, settled, started
from fcfs.bootstrap.settings import Settings
from fcfs.bootstrap.sold_out import FlagClearing, SoldOutFlags, SoldOutShortcut
from fcfs.domain.use_cases import (
    AdmissionGuard,
    AuditCoupon,
    CloseIssuance,
    CouponWindows,
    CreateCoupon,
    DeleteCoupon,
    IssueCoupon,
    LoadStock,
    PauseIssuance,
    ReadAuditTrail,
    ReadCoupon,
    ReadLiveView,
    ReadUserIssue,
    RecordAdminAction,
    ResumeIssuance,
    TopUpStock,
)
from fcfs.ports.strategy import StrategyKit

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [  # `Services` and the start-up helpers live in `services.py`; importers of this module still find them
    "Container",
    "Services",
    "migrate",
    "open_memory_services",
    "open_services",
    "resolved",
    "settled",
    "started",
    "use_memory_backends",
]


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    strategy_factories = providers.Singleton(discover)
    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(process_metrics)

    # Clients with a lifecycle; `None` when the backend is not configured.
    engine = providers.Resource(backends.sql_engine, settings, metrics)
    redis = providers.Resource(backends.redis_client, settings)
    producer = providers.Resource(backends.kafka_producer, settings)

    # The backends' adapters, undecorated: what `use_memory_backends` replaces with the twins.
    coupons = providers.Singleton(SqlCouponRepository, engine)
    admissions = providers.Singleton(SqlAdmissionLedger, engine)
    controls = providers.Singleton(SqlCouponControls, engine)
    audit_log = providers.Singleton(SqlAuditLog, engine)
    issued_rows = providers.Singleton(SqlIssuedCouponRepository, engine)
    transactions = providers.Singleton(SqlUnitOfWork, engine)
    gate_stock = providers.Singleton(
        backends.redis_gate, redis, settings.provided.redis_prefix, settings.provided.gate_batching
    )
    publisher_backend = providers.Singleton(backends.publisher, producer, settings)
    unconfirmed = providers.Singleton(backends.unconfirmed_events, redis, settings.provided.redis_prefix)
    distributed_lock = providers.Singleton(backends.redis_lock, redis, settings, spin=False)
    spin_lock = providers.Singleton(backends.redis_lock, redis, settings, spin=True)
    checks = providers.Callable(backends.health_checks, engine, redis, producer)
    idempotency = providers.Singleton(backends.idempotency_store, redis, settings)
    rate_limiter = providers.Singleton(backends.rate_limiter, redis, settings)
    results = providers.Resource(backends.issue_results, redis, settings)
    live_counters = providers.Resource(live.live_counters, redis, gate_stock, settings.provided.redis_prefix)
    live_lag = providers.Singleton(live.sampled_lag, settings)

    # The issue path's ports, timed: what the strategies and the consumer write through.
    issued = providers.Singleton(InstrumentedIssuedRepository, issued_rows, metrics)
    uow = providers.Singleton(InstrumentedUnitOfWork, transactions, metrics)
    gate = providers.Singleton(instrumented_gate, gate_stock, metrics)
    publisher = providers.Singleton(instrumented_publisher, publisher_backend, metrics)

    kit = providers.Singleton(
        StrategyKit,
        clock=clock,
        uow=uow,
        issued=issued,
        process_lock=providers.Singleton(ProcessLock),
        timed_lock=providers.Singleton(TimedProcessLock, settings.provided.lock_wait_seconds),
        db_permits=providers.Singleton(
            ProcessSemaphore, settings.provided.db_permits, settings.provided.lock_wait_seconds
        ),
        slots=providers.Singleton(ProcessSlotCounter),
        gate=gate,
        distributed_lock=distributed_lock,
        spin_lock=spin_lock,
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

    # The issue use case and its decorators, innermost first; the outermost counts every answer
    # (metrics and the live view's tally).
    admission_guard = providers.Singleton(AdmissionGuard, admissions)
    issue_use_case = providers.Singleton(IssueCoupon, windows, strategies, clock, admission_guard)
    guarded_issue = providers.Singleton(GuardedIssueCoupon, issue_use_case, bulkhead)
    shortcut_issue = providers.Singleton(SoldOutShortcut, guarded_issue, sold_out)
    issue_coupon = providers.Singleton(InstrumentedIssueCoupon, shortcut_issue, strategies, metrics, live_counters)

    services = providers.Singleton(
        Services,
        settings=settings,
        strategies=strategies,
        create_coupon=providers.Singleton(CreateCoupon, coupons),
        load_stock=providers.Singleton(
            FlagClearing, providers.Singleton(LoadStock, coupons, issued_rows, gate_stock).provided.execute, sold_out
        ),
        issue_coupon=issue_coupon,
        read_coupon=providers.Singleton(ReadCoupon, coupons, issued_rows, gate_stock, admissions),
        read_user_issue=providers.Singleton(ReadUserIssue, coupons, issued_rows, gate_stock),
        delete_coupon=providers.Singleton(
            FlagClearing, providers.Singleton(DeleteCoupon, coupons, gate_stock, windows).provided.execute, sold_out
        ),
        audit_coupon=providers.Singleton(AuditCoupon, coupons, issued_rows, gate_stock),
        record_admin_action=providers.Singleton(RecordAdminAction, audit_log, clock),
        read_audit_trail=providers.Singleton(ReadAuditTrail, audit_log, coupons),
        pause_issuance=providers.Singleton(
            FlagClearing, providers.Singleton(PauseIssuance, controls, gate_stock).provided.execute, sold_out
        ),
        resume_issuance=providers.Singleton(
            FlagClearing, providers.Singleton(ResumeIssuance, controls, gate_stock).provided.execute, sold_out
        ),
        close_issuance=providers.Singleton(
            FlagClearing, providers.Singleton(CloseIssuance, controls, gate_stock).provided.execute, sold_out
        ),
        top_up_stock=providers.Singleton(
            FlagClearing, providers.Singleton(TopUpStock, coupons, controls, gate_stock).provided.execute, sold_out
        ),
        checks=checks,
        idempotency=idempotency,
        rate_limiter=rate_limiter,
        issue_results=results,
        live_view=providers.Singleton(ReadLiveView, coupons, issued_rows, live_counters, admissions, live_lag),
    )


def use_memory_backends(container: Container) -> Container:
    """The in-process twins in place of SQL, Redis and Kafka: every strategy runs, nothing is started."""
    from fcfs.adapters.memory.admission import MemoryAdmissionLedger
    from fcfs.adapters.memory.audit import MemoryAuditLog
    from fcfs.adapters.memory.controls import MemoryCouponControls
    from fcfs.adapters.memory.gate import MemoryIssuanceGate
    from fcfs.adapters.memory.publisher import MemoryIssuePublisher, MemoryUnconfirmedEvents
    from fcfs.adapters.memory.results import MemoryIssueResults
    from fcfs.adapters.memory.store import (
        MemoryCouponRepository,
        MemoryDatabase,
        MemoryIssuedCouponRepository,
        MemoryUnitOfWork,
    )

    db = providers.Singleton(MemoryDatabase)
    wait = container.settings.provided.lock_wait_seconds
    container.override_providers(
        engine=providers.Object(None),
        redis=providers.Object(None),
        producer=providers.Object(None),
        coupons=providers.Singleton(MemoryCouponRepository, db),
        admissions=providers.Singleton(MemoryAdmissionLedger, db),
        controls=providers.Singleton(MemoryCouponControls, db),
        audit_log=providers.Singleton(MemoryAuditLog),
        issued_rows=providers.Singleton(MemoryIssuedCouponRepository, db),
        transactions=providers.Singleton(MemoryUnitOfWork, db),
        gate_stock=providers.Singleton(MemoryIssuanceGate),
        publisher_backend=providers.Singleton(MemoryIssuePublisher),
        unconfirmed=providers.Singleton(MemoryUnconfirmedEvents),
        distributed_lock=providers.Singleton(TimedProcessLock, wait),
        spin_lock=providers.Singleton(TimedProcessLock, wait),
        results=providers.Singleton(MemoryIssueResults),
    )
    return container


@asynccontextmanager
async def open_services(settings: Settings, container: Container | None = None) -> AsyncIterator[Services]:
    """Start the adapters, hand out the use cases, close the adapters on exit."""
    container = container or Container(settings=settings)
    preflight.check(settings, container.strategy_factories())  # before any connection: the operator hears it
    async with started(container) as services:
        yield services


@asynccontextmanager
async def open_memory_services(settings: Settings) -> AsyncIterator[Services]:
    """The same use cases over the in-process twins: for unit tests and the HTTP contract tests."""
    async with started(use_memory_backends(Container(settings=settings))) as services:
        yield services


async def migrate(settings: Settings) -> None:
    """Bring the configured database to the newest schema (idempotent)."""
    from fcfs.adapters.sql.migrate import upgrade

    await upgrade(settings.sqlalchemy_url)
