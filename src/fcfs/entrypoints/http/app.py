"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.di import Provide

from fcfs.bootstrap.container import Services, open_services
from fcfs.bootstrap.observability.metrics import forget_this_process, process_metrics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.collector import settle_startup_objects
from fcfs.entrypoints.http.api_docs import api_docs_config
from fcfs.entrypoints.http.audit import AuditController
from fcfs.entrypoints.http.audit_trail import audit_trail
from fcfs.entrypoints.http.body_guard import body_guard
from fcfs.entrypoints.http.client_ip import trusted_proxies
from fcfs.entrypoints.http.console import console_router
from fcfs.entrypoints.http.coupons import CouponController
from fcfs.entrypoints.http.deps import provide_services
from fcfs.entrypoints.http.errors import EXCEPTION_HANDLERS
from fcfs.entrypoints.http.health import health, ready
from fcfs.entrypoints.http.issue_route import IssueRoute
from fcfs.entrypoints.http.live_controls import LiveControlsController
from fcfs.entrypoints.http.live_view import LiveViewController
from fcfs.entrypoints.http.metrics import metrics
from fcfs.entrypoints.http.request_context import RequestCounter, request_context, response_hook
from fcfs.entrypoints.http.result_stream import ResultStreamController
from fcfs.entrypoints.http.user_token import user_tokens
from fcfs.entrypoints.version import package_version

if TYPE_CHECKING:
    from litestar.types import ASGIApp


YOUNG_GENERATION_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def freeze_startup_objects() -> None:
    """Start-up objects out of the collector's view, young collections rarer (`entrypoints/collector.py`)."""
    settle_startup_objects(YOUNG_GENERATION_THRESHOLD)


def create_app(
    settings: Settings | None = None,
    *,
    services: AbstractAsyncContextManager[Services] | None = None,
    fast_issue: bool = True,
) -> ASGIApp:
    """Build the app; `services` replaces the container (tests pass in-memory ones).

    The app served is the Litestar app behind the fast issue route (`issue_route.py`);
    `fast_issue=False` serves the Litestar app alone, issue requests included.

    Bad security settings (a short token secret, a malformed trusted-proxy list) fail here, at start-up.
    """
    settings = settings or Settings.from_env()
    if settings.require_admin_token and not settings.admin_token:
        raise RuntimeError(
            "FCFS_REQUIRE_ADMIN_TOKEN is set but FCFS_ADMIN_TOKEN is empty: refusing open admin endpoints"
        )
    user_tokens(settings)
    trusted_proxies(settings.trusted_proxies)

    counter = RequestCounter(process_metrics())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with services or open_services(settings) as opened:
                app.state.services = opened
                freeze_startup_objects()
                yield
        finally:
            app.state.pop("services", None)
            process_metrics().buffer.flush()  # the last turn's updates, before this worker is forgotten
            forget_this_process()

    app = Litestar(
        route_handlers=[
            CouponController,
            LiveControlsController,
            AuditController,
            ResultStreamController,
            LiveViewController,
            console_router(),
            health,
            ready,
            metrics,
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_context, body_guard, audit_trail],
        before_send=[response_hook(counter)],
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=api_docs_config("fcfs", package_version()),
        debug=False,
        logging_config=None,  # the process's one log stream (bootstrap/observability/logs.py), not Litestar's own
    )
    return IssueRoute(app, settings.max_body_bytes, counter) if fast_issue else app
