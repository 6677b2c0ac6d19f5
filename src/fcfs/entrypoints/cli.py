"""The `fcfs` command: serve, consume, demo, loadtest, reconcile, migrate, strategies.

Exit codes say whether the run did what was asked: 0 it did, 1 it ran and did not (nothing
measured, nothing succeeded, a consumer not alive, an inconsistency left), 2 it was refused
before it started (a usage error, or a configuration the preflight rejects, printed without
a traceback).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.progress import progress_for

if TYPE_CHECKING:
    from fcfs.ports.strategy import StrategyFactory

app = typer.Typer(help="First-come-first-served coupon issuance.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

REFUSED = 2  # the configuration or the arguments, before anything started
NOT_DONE = 1  # it ran, and did not do what was asked


def _refuse(message: str) -> NoReturn:
    typer.echo(f"fcfs: {message}", err=True)
    raise typer.Exit(REFUSED)


def _settings() -> Settings:
    """The settings, a malformed value refused here rather than in a worker."""
    from fcfs.bootstrap.preflight import ConfigurationError, read_settings

    try:
        return read_settings()
    except ConfigurationError as error:
        _refuse(str(error))


def _checked_settings() -> Settings:
    """The settings, every one checked, whatever the strategy."""
    from fcfs.bootstrap.preflight import ConfigurationError, check_settings

    settings = _settings()
    try:
        check_settings(settings)
    except ConfigurationError as error:
        _refuse(str(error))
    return settings


def _server_settings(*, embedded: bool, factories: dict[str, StrategyFactory] | None = None) -> Settings:
    """Settings checked by the preflight before any embedded service or worker starts; data dir made absolute."""
    from fcfs.bootstrap.plugins import discover
    from fcfs.bootstrap.preflight import ConfigurationError, check
    from fcfs.entrypoints.runtime import absolute_data_dir

    settings = _settings()
    try:
        check(settings, discover() if factories is None else factories, embedded=embedded)
    except ConfigurationError as error:
        _refuse(str(error))
    absolute_data_dir(settings)
    return Settings.from_env()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to bind."),
    workers: int = typer.Option(1, min=1, help="Server worker processes."),
    consumer: bool = typer.Option(True, help="Also run the consumer when the embedded broker is used."),
    embedded: bool = typer.Option(True, help="Start embedded Redis/broker for unset URLs."),
    backpressure: int = typer.Option(0, min=0, help="Requests in flight per worker (0: granian's default)."),
) -> None:
    """Run the HTTP API with granian (and the embedded services, with their consumer, when no URLs are set)."""
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from fcfs.bootstrap.observability.metrics import multiprocess_dir
    from fcfs.entrypoints.embedded import EmbeddedServiceMissing
    from fcfs.entrypoints.runtime import backing_services, spawn_consumer, stop

    settings = _server_settings(embedded=embedded)
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
                    loop=Loops.uvloop if os.name != "nt" else Loops.auto,
                    factory=True,
                    backlog=4096,
                    backpressure=backpressure or None,
                    respawn_failed_workers=True,
                    log_access=False,
                ).serve()
            finally:
                stop(child)
    except EmbeddedServiceMissing as error:
        _refuse(f"{error}, or set FCFS_REDIS_URL and FCFS_KAFKA_BOOTSTRAP_SERVERS")


@app.command()
def consume(
    check: bool = typer.Option(False, "--check", help="Exit 0 when a consumer of this data dir polled lately, else 1."),
    max_age: float = typer.Option(30.0, min=0.0, help="With --check: seconds since the last poll."),
) -> None:
    """Run the consumer: coupon.issued → batched, capped, idempotent inserts."""
    from fcfs.bootstrap.preflight import ConfigurationError, check_consumer
    from fcfs.entrypoints.consumer import consumer_alive, main

    settings = _settings()
    if check:
        alive = consumer_alive(settings, max_age)
        typer.echo(f"consumer {'alive' if alive else f'not seen polling in the last {max_age:g} s'}")
        raise typer.Exit(0 if alive else NOT_DONE)
    try:
        check_consumer(settings)
    except ConfigurationError as error:
        _refuse(f"{error} (`fcfs serve` on the embedded default runs its own consumer)")
    main()


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent)."""
    from fcfs.bootstrap.container import migrate as run

    settings = _settings()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(run(settings))
    console.print(f"database at {settings.sqlalchemy_url.split('@')[-1]} is up to date")


@app.command()
def reconcile(
    coupon: int = typer.Option(..., min=1, help="Coupon id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be repaired, change nothing."),
) -> None:
    """Compare the Redis gate, the rows and the consumer's lag for one coupon, and repair (DESIGN.md §6.7).

    Exit 1 when something is left to do: a dry run that found an inconsistency, or a repair that failed.
    """
    import dataclasses

    from fcfs.bootstrap.pipeline import open_reconcile

    settings = _checked_settings()
    if not settings.kafka_bootstrap_servers or not settings.redis_url:
        _refuse(
            "reconciliation reads the broker and the Redis gate: set FCFS_KAFKA_BOOTSTRAP_SERVERS and FCFS_REDIS_URL"
        )

    async def run() -> tuple[dict[str, object], bool]:
        async with open_reconcile(settings) as use_case:
            report = await use_case.execute(coupon, dry_run=dry_run)
        left = bool(report.failed) or (dry_run and not report.consistent)
        return dataclasses.asdict(report), left

    report, left = asyncio.run(run())
    typer.echo(json.dumps(report, default=str))
    raise typer.Exit(NOT_DONE if left else 0)


@app.command()
def strategies() -> None:
    """List the installed strategies."""
    from fcfs.bootstrap.plugins import discover

    table = Table("name", "safe across processes", "needs", "description")
    for name, factory in sorted(discover().items()):
        needs = ", ".join(sorted(factory.needs))
        table.add_row(name, "yes" if factory.cross_process_safe else "no", needs, factory.description)
    Console().print(table)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _worker_counts(value: str) -> list[int]:
    counts = []
    for part in _split(value):
        if not part.isdigit() or int(part) < 1:
            raise typer.BadParameter(f"{part!r} is not a worker count (a whole number ≥ 1, or a comma list of them)")
        counts.append(int(part))
    if not counts:
        raise typer.BadParameter("give at least one worker count")
    return counts


@app.command()
def demo(
    users: int = typer.Option(10_000, min=1, help="Distinct users racing."),
    repeats: int = typer.Option(1_000, min=0, help="Extra requests from users who already tried."),
    stock: int = typer.Option(100, min=1, help="Coupon stock."),
    strategy: str = typer.Option("", help="Strategy, comma list, or 'all' (default: FCFS_STRATEGY or lua-async)."),
    workers: str = typer.Option("1", help="Server worker processes, or a comma list (e.g. 1,2)."),
    concurrency: int = typer.Option(1_000, min=1, help="Concurrent connections."),
    out: Path = typer.Option(Path("fcfs-report"), help="Where the lab writes report.md, results.json, charts."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per run (skipped ones too)."),
) -> None:
    """Race USERS for STOCK over HTTP per strategy and worker count; read the outcome back from storage.

    A strategy the backends cannot serve is skipped with its reason; exit 1 when nothing requested ran.
    """
    from fcfs.bootstrap.plugins import discover
    from fcfs.entrypoints.demo import Scenario, run_scenario, skip_reason
    from fcfs.entrypoints.report import markdown_table, row_of, write_report
    from fcfs.entrypoints.runtime import backing_services

    worker_counts = _worker_counts(workers)
    if "FCFS_DATA_DIR" not in os.environ and not os.environ.get("FCFS_DATABASE_URL"):
        os.environ["FCFS_DATA_DIR"] = tempfile.mkdtemp(prefix="fcfs-demo-")
    factories = discover()
    # Without --strategy the configured one runs: refuse it like `serve` would; a named one is skipped with why.
    settings = _server_settings(embedded=True, factories=factories) if not strategy else _checked_settings()
    names = sorted(factories) if strategy == "all" else _split(strategy or settings.strategy)
    results: list[dict[str, object]] = []
    with backing_services(settings) as effective, progress_for(console) as start:
        for name in names:
            for count in worker_counts:
                reason = skip_reason(effective, factories, name)
                if reason:
                    typer.echo(f"{name} x {count} worker(s) skipped: {reason}", err=True)
                    results.append({"strategy": name, "workers": count, "skipped": reason})
                    continue
                advance = start(f"{name} x {count} worker(s)", users + repeats)
                scenario = Scenario(name, count, users, repeats, stock, concurrency)
                results.append(run_scenario(effective, scenario, Path(effective.data_dir), advance))
    ran = [result for result in results if "skipped" not in result]
    if as_json:
        typer.echo(json.dumps(results))
    elif len(results) == 1 and ran:
        table = Table("figure", "value", title=f"fcfs demo: {names[0]}, {worker_counts[0]} worker(s)")
        for key, value in ran[0].items():
            table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
        Console().print(table)
    elif ran:
        typer.echo(markdown_table([row_of(result) for result in results]))
    if len(results) > 1 and ran:
        written = write_report(results, out, stock, users + repeats)
        console.print(f"wrote {', '.join(str(path) for path in written)}")
    if not ran:
        raise typer.Exit(NOT_DONE)


@app.command()
def loadtest(
    url: str = typer.Argument(..., help="Base URL of a running fcfs, e.g. http://127.0.0.1:8000 (or https://)"),
    coupon: int = typer.Option(..., min=1, help="Coupon id to race for."),
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
    insecure: bool = typer.Option(False, "--insecure", help="https:// without verifying the server's certificate."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object on stdout."),
) -> None:
    """Burst tool: open CONCURRENCY connections, release all users at once, report codes and latency.

    Exit 1 when no request was answered 2xx (nothing issued: wrong URL, coupon or token, TLS refused,
    or a coupon already sold out); the summary shows what came back instead.
    """
    from urllib.parse import urlsplit

    from fcfs.entrypoints.demo import user_order
    from fcfs.entrypoints.loadgen import burst, issue_requests, run, tls_context, user_token_signer

    try:
        tls_context(urlsplit(url).scheme, insecure=insecure)
    except ValueError as error:
        _refuse(str(error))
    order = [first_user - 1 + user for user in user_order(users, repeat_users)]
    signer = user_token_signer(token_secret, audience=token_audience, issuer=token_issuer) if token_secret else None
    requests = issue_requests(coupon, order, token=signer)
    with progress_for(console) as start:
        advance = start("requests", len(order))
        result = run(
            burst(
                url, requests, concurrency=concurrency, on_answer=advance, timeout=timeout, ramp=ramp, insecure=insecure
            )
        )
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_summary(summary)
    if not any(200 <= status < 300 for status in result.by_status):
        typer.echo("no request was answered 2xx", err=True)
        raise typer.Exit(NOT_DONE)


def _print_summary(summary: dict[str, object]) -> None:
    table = Table("figure", "value", title="fcfs loadtest")
    for key, value in summary.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    Console().print(table)


if __name__ == "__main__":
    app()
