"""What the composition root hands an entrypoint (`Services`), and how a graph is started and stopped.

dependency-injector answers an awaitable only when some provider depends on an async
resource; `settled` and `resolved` hide that difference, so the same code starts the real
graph and the in-memory one (`container.py`, `pipeline.py`).
"""

# ruff: noqa: TC001  (Litestar resolves the `Services` hints at runtime: every field's type is imported for real)
from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from fcfs.bootstrap.plugins import StrategyRegistry
from fcfs.bootstrap.settings import Settings
from fcfs.domain.use_cases import (
    AuditCoupon,
    CreateCoupon,
    ReadAuditTrail,
    ReadCoupon,
    ReadLiveView,
    ReadUserIssue,
    RecordAdminAction,
    StateChanged,
    StockLoaded,
    StockToppedUp,
)
from fcfs.ports.health import DependencyCheck
from fcfs.ports.idempotency import IdempotencyStore
from fcfs.ports.notifications import IssueResults
from fcfs.ports.rate_limit import RateLimiter
from fcfs.ports.use_cases import ChangesCouponState, DeletesCoupons, IssuesCoupons, LoadsStock, TopsUpStock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

    from dependency_injector import providers

    from fcfs.bootstrap.container import Container

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    """Everything an entrypoint needs, resolved once per process."""

    settings: Settings
    strategies: StrategyRegistry
    create_coupon: CreateCoupon
    load_stock: LoadsStock[StockLoaded]
    issue_coupon: IssuesCoupons
    read_coupon: ReadCoupon
    read_user_issue: ReadUserIssue
    delete_coupon: DeletesCoupons
    audit_coupon: AuditCoupon
    record_admin_action: RecordAdminAction
    read_audit_trail: ReadAuditTrail
    pause_issuance: ChangesCouponState[StateChanged]
    resume_issuance: ChangesCouponState[StateChanged]
    close_issuance: ChangesCouponState[StateChanged]
    top_up_stock: TopsUpStock[StockToppedUp]
    checks: list[DependencyCheck]
    idempotency: IdempotencyStore
    rate_limiter: RateLimiter | None
    issue_results: IssueResults | None = None  # listeners for results pushed by the consumer (docs/design.md §10)
    live_view: ReadLiveView | None = None  # the live view's snapshots (docs/design.md, the live view)


async def settled(pending: Awaitable[object] | None) -> None:
    """dependency-injector answers an awaitable only when some resource is async; the memory graph has none."""
    if pending is not None:
        await pending


async def resolved(provider: providers.Provider[T]) -> T:
    """The provided object, whether or not the provider depends on an async resource."""
    provider.enable_async_mode()
    return await provider.async_()


@asynccontextmanager
async def started(container: Container) -> AsyncIterator[Services]:
    """The container's resources started, its `Services` resolved once, everything closed on exit."""
    await settled(container.init_resources())
    try:
        yield await resolved(container.services)
    finally:
        await settled(container.shutdown_resources())
