"""`fcfs serve`: the HTTP API on granian, with the embedded services and their consumer when no URL is set."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fcfs.entrypoints.commands.refusals import refuse, server_settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to bind."),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
    consumer: bool = typer.Option(True, help="Also run the consumer when the embedded broker is used."),
    embedded: bool = typer.Option(True, help="Start embedded Redis/broker for unset URLs."),
    backpressure: int = typer.Option(0, min=0, help="Requests in flight per worker (0: granian's default)."),
) -> None:
    """Run the HTTP API with granian (and the embedded services, with their consumer, when no URLs are set)."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.server import Server

    from fcfs.bootstrap.observability.logs import configure_logging, logging_config
    from fcfs.bootstrap.observability.metrics import multiprocess_dir
    from fcfs.entrypoints.embedded import EmbeddedServiceMissing
    from fcfs.entrypoints.runtime import backing_services, spawn_consumer, stop

    settings = server_settings(embedded=embedded)
    configure_logging(settings.log_level, log_format=settings.log_format)
    started_broker = embedded and not settings.kafka_bootstrap_servers
    try:
        # Metrics directory first: every worker and the consumer child write their values there.
        with multiprocess_dir(Path(settings.data_dir)), backing_services(settings, embedded=embedded) as effective:
            child = spawn_consumer(Path(effective.data_dir)) if consumer and started_broker else None
            try:
                Server(
                    "fcfs.entrypoints.http.asgi:create_app",
                    address=host,
                    port=port,
                    workers=workers,
                    interface=Interfaces.ASGI,
                    http=HTTPModes.http1,  # nginx speaks HTTP/1.1 to us; `auto` costs ~11 KiB more per open connection
                    loop=Loops.uvloop if os.name != "nt" else Loops.auto,
                    factory=True,
                    backlog=4096,
                    backpressure=backpressure or None,
                    respawn_failed_workers=True,
                    log_access=False,
                    log_dictconfig=logging_config(settings.log_level, settings.log_format),  # its master and workers
                ).serve()
            finally:
                stop(child)
    except EmbeddedServiceMissing as error:
        refuse(f"{error}, or set FCFS_REDIS_URL and FCFS_KAFKA_BOOTSTRAP_SERVERS")
