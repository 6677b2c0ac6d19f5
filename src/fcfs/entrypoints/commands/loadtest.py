"""`fcfs loadtest`: the burst tool against a running fcfs."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from fcfs.entrypoints.commands.refusals import NOT_DONE, refuse
from fcfs.entrypoints.progress import progress_for


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
    from fcfs.entrypoints.load_connection import tls_context
    from fcfs.entrypoints.loadgen import burst, issue_requests, run, user_token_signer

    try:
        tls_context(urlsplit(url).scheme, insecure=insecure)
    except ValueError as error:
        refuse(str(error))
    order = [first_user - 1 + user for user in user_order(users, repeat_users)]
    signer = user_token_signer(token_secret, audience=token_audience, issuer=token_issuer) if token_secret else None
    requests = issue_requests(coupon, order, token=signer)
    with progress_for(Console(stderr=True)) as start:
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
