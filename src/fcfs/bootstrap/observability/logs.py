"""structlog as JSON lines on stderr: one set-up for every fcfs process (API workers, consumer, CLI).

Library users configure structlog themselves; an entrypoint calls `configure_logging` once
per process, adding the processors that bind its own context (the HTTP request id).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from structlog.typing import Processor


def configure_logging(level: str = "info", *context: Processor) -> None:
    """`context` processors run right after the context variables are merged, before the level is added."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"FCFS_LOG_LEVEL={level!r} is not a log level")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
