"""The ASGI factory granian workers call (`fcfs.entrypoints.http.asgi:create_app`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app as _create_app
from fcfs.entrypoints.http.logs import configure_logging

if TYPE_CHECKING:
    from litestar.types import ASGIApp


def create_app() -> ASGIApp:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return _create_app(settings)
