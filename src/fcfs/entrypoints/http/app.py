"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from fcfs.bootstrap.container import Services, open_services
from fcfs.bootstrap.metrics import forget_this_process, process_metrics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.client_ip import trusted_proxies
from fcfs.entrypoints.http.coupons import CouponController
from fcfs.entrypoints.http.deps import provide_services
from fcfs.entrypoints.http.errors import EXCEPTION_HANDLERS
from fcfs.entrypoints.http.health import health, ready
from fcfs.entrypoints.http.metrics import metrics
from fcfs.entrypoints.http.request_context import request_context, response_hook
from fcfs.entrypoints.http.user_token import user_tokens


def create_app(
    settings: Settings | None = None,
    *,
    services: AbstractAsyncContextManager[Services] | None = None,
) -> Litestar:
    """Build the app; `services` replaces the container (tests pass in-memory ones).

    Bad security settings (a short token secret, a malformed trusted-proxy list) fail here, at start-up.
    """
    settings = settings or Settings.from_env()
    if settings.require_admin_token and not settings.admin_token:
        raise RuntimeError(
            "FCFS_REQUIRE_ADMIN_TOKEN is set but FCFS_ADMIN_TOKEN is empty: refusing open admin endpoints"
        )
    user_tokens(settings)
    trusted_proxies(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with services or open_services(settings) as opened:
                app.state.services = opened
                yield
        finally:
            forget_this_process()

    return Litestar(
        route_handlers=[CouponController, health, ready, metrics],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_context],
        before_send=[response_hook(process_metrics())],
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="fcfs", version="0.1.0", path="/schema"),
        debug=False,
    )
