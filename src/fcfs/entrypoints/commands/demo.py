"""`fcfs demo`: the race over HTTP per strategy and worker count, read back from storage (and the lab)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fcfs.entrypoints.commands.refusals import NOT_DONE, checked_settings, server_settings
from fcfs.entrypoints.progress import progress_for


def split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def worker_counts(value: str) -> list[int]:
    counts = []
    for part in split(value):
        if not part.isdigit() or int(part) < 1:
            raise typer.BadParameter(f"{part!r} is not a worker count (a whole number ≥ 1, or a comma list of them)")
        counts.append(int(part))
    if not counts:
        raise typer.BadParameter("give at least one worker count")
    return counts


def demo(
    users: int = typer.Option(10_000, min=1, help="Distinct users racing."),
    repeats: int = typer.Option(1_000, min=0, help="Extra requests from users who already tried."),
    stock: int = typer.Option(100, min=1, help="Coupon stock."),
    strategy: str = typer.Option("", help="Strategy, comma list, or 'all' (default: FCFS_STRATEGY or lua-async)."),
    workers: str = typer.Option("1", help="Server worker processes, or a comma list (e.g. 1,2)."),
    concurrency: int = typer.Option(1_000, min=1, help="Concurrent connections."),
    out: Path = typer.Option(Path("fcfs-report"), help="Where the lab writes report.md, results.json, charts."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per run (skipped ones too)."),
    watch: bool = typer.Option(
        False, "--console", help="Open the live console on each race (URL on stderr); serve a while after it."
    ),
) -> None:
    """Race USERS for STOCK over HTTP per strategy and worker count; read the outcome back from storage.

    A strategy the backends cannot serve is skipped with its reason; exit 1 when nothing requested ran.
    """
    from fcfs.bootstrap.observability.logs import configure_logging, log_level
    from fcfs.bootstrap.plugins import discover
    from fcfs.entrypoints.demo import Scenario, run_scenario, skip_reason
    from fcfs.entrypoints.report import markdown_table, row_of, write_report
    from fcfs.entrypoints.runtime import backing_services

    console = Console(stderr=True)
    counts = worker_counts(workers)
    if "FCFS_DATA_DIR" not in os.environ and not os.environ.get("FCFS_DATABASE_URL"):
        os.environ["FCFS_DATA_DIR"] = tempfile.mkdtemp(prefix="fcfs-demo-")
    factories = discover()
    # Without --strategy the configured one runs: refuse it like `serve` would; a named one is skipped with why.
    settings = server_settings(embedded=True, factories=factories) if not strategy else checked_settings()
    # The terminal holds the progress and the report: warnings and errors only (each server logs to its own file).
    quiet = logging.getLevelName(max(log_level(settings.log_level), logging.WARNING))
    configure_logging(quiet, log_format=settings.log_format)
    names = sorted(factories) if strategy == "all" else split(strategy or settings.strategy)
    results: list[dict[str, object]] = []
    with backing_services(settings) as effective, progress_for(console) as start:
        for name in names:
            for count in counts:
                reason = skip_reason(effective, factories, name)
                if reason:
                    typer.echo(f"{name} x {count} worker(s) skipped: {reason}", err=True)
                    results.append({"strategy": name, "workers": count, "skipped": reason})
                    continue
                advance = start(f"{name} x {count} worker(s)", users + repeats)
                scenario = Scenario(name, count, users, repeats, stock, concurrency, watch)
                results.append(run_scenario(effective, scenario, Path(effective.data_dir), advance))
    ran = [result for result in results if "skipped" not in result]
    if as_json:
        typer.echo(json.dumps(results))
    elif len(results) == 1 and ran:
        table = Table("figure", "value", title=f"fcfs demo: {names[0]}, {counts[0]} worker(s)")
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
