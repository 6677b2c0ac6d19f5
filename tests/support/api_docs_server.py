"""The app on in-memory services, for a granian process that serves the API documentation page.

The page needs nothing behind the app, so the browser test starts no database, Redis or broker.
"""

from __future__ import annotations

from litestar.types import ASGIApp

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app


def app() -> ASGIApp:
    settings = Settings(strategy="lua")
    return create_app(settings, services=open_memory_services(settings))
