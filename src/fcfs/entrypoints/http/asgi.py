"""The ASGI factory granian workers call (`fcfs.entrypoints.http.asgi:create_app`)."""

from __future__ import annotations

from litestar import Litestar

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app as _create_app


def create_app() -> Litestar:
    return _create_app(Settings.from_env())
