"""The consumer process: `coupon.issued` → capped, idempotent batch inserts (`fcfs consume`).

`run_consumer` runs until `stop` is set (or its task is cancelled), so `fcfs serve` can run
it as a task beside the HTTP app; `main` is the process (`python -m fcfs.entrypoints.consumer`),
which sets `stop` on SIGTERM or SIGINT. On stop the batch in flight gets a short grace to
finish and commit, or is left uncommitted for the next consumer; nothing half-done is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING

import structlog

from fcfs.bootstrap.observability.logs import configure_logging
from fcfs.bootstrap.pipeline import ConsumerServices, consumer_heartbeat_age, open_consumer_services
from fcfs.bootstrap.settings import Settings
from fcfs.domain.errors import PublishFailed
from fcfs.entrypoints.collector import settle_startup_objects

if TYPE_CHECKING:
    from pathlib import Path

log = structlog.get_logger("fcfs.consumer")


# Young collections every this many net allocations instead of CPython's 700: a 2,000-event
# batch allocates tens of thousands of short-lived objects, nearly all freed with the batch.
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_consumer_gc() -> None:
    """Tune the collector for a process that only consumes (`fcfs consume`, the drain bench's workers).

    Everything built at start-up (modules, pools, clients) leaves the collector's view, so a
    full collection walks only what the batches in flight hold; and young collections run
    once per tens of thousands of allocations rather than dozens of times per batch. A batch's
    objects form no cycles the collector must find early: they are freed by reference count
    as soon as the batch is committed. `fcfs serve`'s workers use the same mechanism with their own threshold.
    """
    settle_startup_objects(YOUNG_GENERATION_THRESHOLD)


async def run_consumer(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    heartbeat_path: Path | None = None,
    own_process: bool = False,
) -> None:
    """Consume until `stop` is set; creates the topics first when they do not exist.

    A broker that is not up yet is waited for (with backoff, until `stop`), so the consumer
    may start before the broker does. `own_process`: the process does nothing else, so its
    collector is tuned for consuming once the services are open (`tune_consumer_gc`).
    """
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        services = await _open_once_the_broker_answers(stack, settings, stop, heartbeat_path)
        if services is not None:
            if own_process:
                tune_consumer_gc()
            await services.consumer.run(stop)


async def _open_once_the_broker_answers(
    stack: contextlib.AsyncExitStack, settings: Settings, stop: asyncio.Event, heartbeat_path: Path | None
) -> ConsumerServices | None:
    delay = 0.5
    while not stop.is_set():
        try:
            return await stack.enter_async_context(open_consumer_services(settings, heartbeat_path=heartbeat_path))
        except PublishFailed as error:
            log.warning("broker_unavailable_at_start", error=error.detail, retry_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, max(settings.consumer_retry_max_seconds, 0.5))
    return None


def consumer_alive(settings: Settings, max_age: float = 30.0, heartbeat_path: Path | None = None) -> bool:
    """True when a consumer of this data dir polled within `max_age` seconds (no HTTP, no broker call)."""
    age = consumer_heartbeat_age(settings, heartbeat_path)
    return age is not None and age <= max_age


async def _until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_consumer(settings, stop=stop, own_process=True)


def _serve_metrics(settings: Settings) -> None:
    """A standalone consumer has no HTTP app: expose its metrics (lag, batches, dead letters) on a port."""
    if settings.metrics_port <= 0:
        return
    from prometheus_client import start_http_server

    from fcfs.bootstrap.observability.metrics import process_metrics

    start_http_server(settings.metrics_port, registry=process_metrics().registry)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level, log_format=settings.log_format)
    _serve_metrics(settings)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_until_signalled(settings))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_until_signalled(settings))


if __name__ == "__main__":
    main()
