"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from fcfs.bootstrap.container import Services, open_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.coupons import CouponController
from fcfs.entrypoints.http.deps import provide_services
from fcfs.entrypoints.http.errors import EXCEPTION_HANDLERS
from fcfs.entrypoints.http.health import health, ready


def create_app(
    settings: Settings | None = None,
    *,
    services: AbstractAsyncContextManager[Services] | None = None,
) -> Litestar:
    """Build the app; `services` replaces the container (tests pass in-memory ones)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with services or open_services(settings) as opened:
            app.state.services = opened
            yield

    return Litestar(
        route_handlers=[CouponController, health, ready],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="fcfs", version="0.1.0", path="/schema"),
        debug=False,
    )
