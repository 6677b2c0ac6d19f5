"""The `fcfs` command: serve, consume, demo, loadtest, reconcile, migrate, strategies."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fcfs.bootstrap.settings import Settings

app = typer.Typer(help="First-come-first-served coupon issuance.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
    consumer: bool = typer.Option(True, help="Also run the consumer when the embedded broker is used."),
    embedded: bool = typer.Option(True, help="Start embedded Redis/broker for unset URLs."),
    backpressure: int = typer.Option(0, min=0, help="Requests in flight per worker (0: granian's default)."),
) -> None:
    """Run the HTTP API with granian (and the embedded services when no URLs are set)."""
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from fcfs.bootstrap.metrics import multiprocess_dir
    from fcfs.entrypoints.runtime import backing_services, spawn_consumer, stop

    settings = Settings.from_env()
    started_broker = embedded and not settings.kafka_bootstrap_servers
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
                loop=Loops.uvloop if os.name != "nt" else Loops.auto,
                factory=True,
                backlog=4096,
                backpressure=backpressure or None,
                respawn_failed_workers=True,
                log_access=False,
            ).serve()
        finally:
            stop(child)


@app.command()
def consume() -> None:
    """Run the consumer: coupon.issued → batched, capped, idempotent inserts."""
    from fcfs.entrypoints.consumer import main

    main()


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent)."""
    from fcfs.bootstrap.container import migrate as run

    settings = Settings.from_env()
    asyncio.run(run(settings))
    console.print(f"database at {settings.sqlalchemy_url.split('@')[-1]} is up to date")


@app.command()
def strategies() -> None:
    """List the installed strategies."""
    from fcfs.bootstrap.strategies import discover

    table = Table("name", "safe across processes", "needs", "description")
    for name, factory in sorted(discover().items()):
        needs = ", ".join(sorted(factory.needs))
        table.add_row(name, "yes" if factory.cross_process_safe else "no", needs, factory.description)
    Console().print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command()
def demo(
    users: int = typer.Option(10_000, min=1, help="Distinct users racing."),
    repeats: int = typer.Option(1_000, min=0, help="Extra requests from users who already tried."),
    stock: int = typer.Option(100, min=1, help="Coupon stock."),
    strategy: str = typer.Option("", help="Strategy, comma list, or 'all' (default: FCFS_STRATEGY or lua-async)."),
    workers: str = typer.Option("1", help="Server worker processes, or a comma list (e.g. 1,2)."),
    concurrency: int = typer.Option(1_000, min=1, help="Concurrent connections."),
    out: Path = typer.Option(Path("fcfs-report"), help="Where the lab writes report.md, results.json, charts."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
) -> None:
    """Race USERS for STOCK over HTTP per strategy and worker count; read the outcome back from storage."""
    from fcfs.entrypoints.demo import Scenario, run_scenario, skip_reason
    from fcfs.entrypoints.report import markdown_table, row_of, write_report
    from fcfs.entrypoints.runtime import backing_services

    if "FCFS_DATA_DIR" not in os.environ and not os.environ.get("FCFS_DATABASE_URL"):
        os.environ["FCFS_DATA_DIR"] = tempfile.mkdtemp(prefix="fcfs-demo-")
    settings = Settings.from_env()
    from fcfs.bootstrap.strategies import discover

    factories = discover()
    names = sorted(factories) if strategy == "all" else _split(strategy or settings.strategy)
    worker_counts = [int(count) for count in _split(workers)]
    results: list[dict[str, object]] = []
    with backing_services(settings) as effective, _progress() as progress:
        for name in names:
            for count in worker_counts:
                reason = skip_reason(effective, factories, name)
                if reason:
                    results.append({"strategy": name, "workers": count, "skipped": reason})
                    continue
                task = progress.add_task(f"{name} x {count} worker(s)", total=users + repeats)
                progress.advance_one = lambda n, task=task: progress.advance(task, n)  # type: ignore[attr-defined]
                scenario = Scenario(name, count, users, repeats, stock, concurrency)
                results.append(run_scenario(effective, scenario, Path(effective.data_dir), progress))
    if as_json:
        typer.echo(json.dumps(results[0] if len(results) == 1 else results))
    elif len(results) == 1 and "skipped" not in results[0]:
        table = Table("figure", "value", title=f"fcfs demo: {names[0]}, {worker_counts[0]} worker(s)")
        for key, value in results[0].items():
            table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
        Console().print(table)
    else:
        typer.echo(markdown_table([row_of(result) for result in results]))
    if len(results) > 1:
        written = write_report(results, out, stock, users + repeats)
        console.print(f"wrote {', '.join(str(path) for path in written)}")


@app.command()
def loadtest(
    url: str = typer.Argument(..., help="Base URL of a running fcfs, e.g. http://127.0.0.1:8000"),
    coupon: int = typer.Option(..., help="Coupon id to race for."),
    users: int = typer.Option(10_000, min=1),
    repeat_users: int = typer.Option(0, min=0),
    concurrency: int = typer.Option(1_000, min=1),
    first_user: int = typer.Option(1, min=1, help="Users are FIRST_USER … FIRST_USER+USERS−1."),
    ramp: float = typer.Option(0.0, min=0.0, help="Start the connections over this many seconds (0: all at once)."),
    token_secret: str = typer.Option(
        "", envvar="FCFS_USER_TOKEN_SECRET", help="Sign a user token per request (servers that require them)."
    ),
    token_audience: str = typer.Option("", envvar="FCFS_USER_TOKEN_AUDIENCE"),
    token_issuer: str = typer.Option("", envvar="FCFS_USER_TOKEN_ISSUER"),
    timeout: float = typer.Option(30.0, min=0.001, help="Seconds one request may take (then a transport error)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Burst tool: open CONCURRENCY connections, release all users at once, report codes and latency."""
    from fcfs.entrypoints.demo import user_order
    from fcfs.entrypoints.loadgen import burst, issue_requests, run, user_token_signer

    order = [first_user - 1 + user for user in user_order(users, repeat_users)]
    signer = user_token_signer(token_secret, audience=token_audience, issuer=token_issuer) if token_secret else None
    requests = issue_requests(coupon, order, token=signer)
    with _progress() as progress:
        task = progress.add_task("requests", total=len(order))
        result = run(
            burst(
                url,
                requests,
                concurrency=concurrency,
                on_answer=lambda n: progress.advance(task, n),
                timeout=timeout,
                ramp=ramp,
            )
        )
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        Console().print_json(json.dumps(summary))


if __name__ == "__main__":
    app()
