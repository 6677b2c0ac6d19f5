"""structlog as JSON lines on stderr, with the request id bound by the request middleware."""

from __future__ import annotations

import logging
import sys

import structlog

from fcfs.entrypoints.http.request_context import add_request_id


def configure_logging(level: str = "info") -> None:
    """Called once per process by the ASGI factory; library users configure structlog themselves."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"FCFS_LOG_LEVEL={level!r} is not a log level")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_request_id,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
