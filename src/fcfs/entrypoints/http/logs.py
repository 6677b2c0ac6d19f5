"""The API process's logging: the common stream, with the request id bound by the request middleware."""

from __future__ import annotations

from fcfs.bootstrap.observability.logs import configure_logging as configure_process_logging
from fcfs.entrypoints.http.request_context import add_request_id


def configure_logging(level: str = "info", log_format: str = "json") -> None:
    """Called once per worker by the ASGI factory; library users configure logging themselves."""
    configure_process_logging(level, add_request_id, log_format=log_format)
