"""One log stream per fcfs process: fcfs's structlog events and every library's `logging` records alike.

aiokafka, SQLAlchemy, alembic, asyncio, granian and Litestar log through the standard `logging`
module; fcfs logs through structlog. Both end in the one root handler, whose
`ProcessorFormatter` renders them with the same fields (level, logger, timestamp, the request id
when one is bound), so an incident reads as one sequence in one format: a JSON object per line by
default, readable lines with `FCFS_LOG_FORMAT=console`. Exceptions are rendered inside the line
(a list of dicts in JSON), never as a raw multi-line traceback that a log shipper would split.

Library users configure logging themselves; an entrypoint calls `configure_logging` once per
process, adding the processors that bind its own context (the HTTP request id). granian's master
and workers apply `logging_config` themselves (`Server(log_dictconfig=...)`) before they load the app.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from structlog.typing import Processor

LOG_FORMATS = ("json", "console")

# Loggers that ship their own handlers or refuse to propagate by default: sent to the root handler instead.
_LIBRARY_LOGGERS = ("_granian", "granian.access", "litestar", "uvicorn", "uvicorn.access", "uvicorn.error")


def log_level(level: str) -> int:
    """`FCFS_LOG_LEVEL` as a `logging` level; a name `logging` does not know is refused."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"FCFS_LOG_LEVEL={level!r} is not a log level")
    return numeric


def check_log_format(log_format: str) -> str:
    if log_format not in LOG_FORMATS:
        raise ValueError(f"FCFS_LOG_FORMAT={log_format!r} is not a log format: set {' or '.join(LOG_FORMATS)}")
    return log_format


def configure_logging(level: str = "info", *context: Processor, log_format: str = "json") -> None:
    """`context` processors run right after the context variables are merged, for fcfs's events and
    for every library's records alike (a record logged while serving a request carries its id)."""
    numeric = log_level(level)
    structlog.configure(
        processors=[*_shared(context), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_config(level, log_format, *context))
    logging.captureWarnings(True)  # `warnings.warn` as a record, not raw text on stderr


def logging_config(level: str = "info", log_format: str = "json", *context: Processor) -> dict[str, Any]:
    """The `logging.config.dictConfig` of one stream: a root handler on stderr with fcfs's formatter,
    library loggers propagating to it; also handed to granian, which applies it in each of its processes."""
    numeric = log_level(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"fcfs": {"()": formatter, "log_format": check_log_format(log_format), "context": context}},
        "handlers": {
            # The level here too: a library may lower its own logger's (granian sets `_granian` to its option).
            "stream": {
                "class": "logging.StreamHandler",
                "formatter": "fcfs",
                "level": numeric,
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stream"], "level": numeric},
        "loggers": {name: {"handlers": [], "propagate": True, "level": numeric} for name in _LIBRARY_LOGGERS},
    }


def formatter(log_format: str = "json", context: Sequence[Processor] = ()) -> structlog.stdlib.ProcessorFormatter:
    """Renders a structlog event as it is, and a foreign record after adding the fields structlog adds."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(context),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderers(log_format)],
    )


def _shared(context: Sequence[Processor]) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        *context,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderers(log_format: str) -> list[Processor]:
    if check_log_format(log_format) == "console":
        # A plain traceback: rich's would print every frame's locals.
        return [
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
        ]
    # Locals stay out: a frame's variables may hold a token or a whole request body.
    tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    return [structlog.processors.ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer()]
