"""The `fcfs` command: serve, consume, demo, loadtest, reconcile, migrate, strategies, --version.

The typer app and the small commands live here; each larger command has its module in
`fcfs.entrypoints.commands`. Exit codes say whether the run did what was asked: 0 it did,
1 it ran and did not, 2 it was refused before it started (see `commands.refusals`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

from fcfs.entrypoints.commands.demo import demo
from fcfs.entrypoints.commands.loadtest import loadtest
from fcfs.entrypoints.commands.reconcile import reconcile
from fcfs.entrypoints.commands.refusals import NOT_DONE, read_settings, refuse
from fcfs.entrypoints.commands.serve import serve
from fcfs.entrypoints.commands.strategies import strategies
from fcfs.entrypoints.version import package_version

app = typer.Typer(help="First-come-first-served coupon issuance.", no_args_is_help=True, add_completion=False)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"fcfs {package_version()}")
        raise typer.Exit


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the installed version and exit."
    ),
) -> None:
    """First-come-first-served coupon issuance."""


@app.command()
def consume(
    check: bool = typer.Option(False, "--check", help="Exit 0 when a consumer of this data dir polled lately, else 1."),
    max_age: float = typer.Option(30.0, min=0.0, help="With --check: seconds since the last poll."),
) -> None:
    """Run the consumer: coupon.issued → batched, capped, idempotent inserts."""
    from fcfs.bootstrap.preflight import ConfigurationError, check_consumer
    from fcfs.entrypoints.consumer import consumer_alive, main

    settings = read_settings()
    if check:
        alive = consumer_alive(settings, max_age)
        typer.echo(f"consumer {'alive' if alive else f'not seen polling in the last {max_age:g} s'}")
        raise typer.Exit(0 if alive else NOT_DONE)
    try:
        check_consumer(settings)
    except ConfigurationError as error:
        refuse(f"{error} (`fcfs serve` on the embedded default runs its own consumer)")
    main()


@app.command()
def migrate() -> None:
    """Apply the database migrations (idempotent)."""
    from fcfs.bootstrap.container import migrate as run

    settings = read_settings()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    asyncio.run(run(settings))
    Console(stderr=True).print(f"database at {settings.sqlalchemy_url.split('@')[-1]} is up to date")


for command in (serve, demo, loadtest, reconcile, strategies):
    app.command()(command)


if __name__ == "__main__":
    app()
