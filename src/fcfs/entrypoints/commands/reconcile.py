"""`fcfs reconcile`: the Redis gate, the rows and the consumer's lag compared and repaired (docs/design.md §6.7).

Prints, per coupon, what it found (gate users and stock, rows, lag, unconfirmed events) and
what it did; exit 0 when every coupon was left consistent, 1 when one could not finish
(lag never zero within `--wait`, a republish refused, a dry run that found work), 2 when
refused before starting (no Redis or broker configured, neither or both of --coupon/--all).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import TYPE_CHECKING

import typer

from fcfs.entrypoints.commands.reconcile_rounds import CouponReconciliation, reconcile_rounds
from fcfs.entrypoints.commands.refusals import NOT_DONE, checked_settings, refuse

if TYPE_CHECKING:
    from fcfs.bootstrap.settings import Settings
    from fcfs.domain.use_cases import ReconcileReport


def reconcile(
    coupon: int | None = typer.Option(None, min=1, help="Coupon id."),
    all_coupons: bool = typer.Option(False, "--all", help="Every coupon the Redis gate admitted for."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be repaired, change nothing."),
    wait: float = typer.Option(
        0.0, min=0.0, help="Seconds to keep going while the consumer lags or republished events are not yet rows."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per coupon."),
) -> None:
    """Compare the Redis gate, the rows and the consumer's lag, and repair (docs/design.md §6.7).

    Exit 1 when something is left to do: the lag never reached zero within --wait, a repair
    failed, or a dry run found an inconsistency.
    """
    if (coupon is None) == (not all_coupons):
        refuse("name the coupons: --coupon N, or --all (one of the two)")
    settings = checked_settings()
    if not settings.kafka_bootstrap_servers or not settings.redis_url:
        refuse(
            "reconciliation reads the broker and the Redis gate: set FCFS_KAFKA_BOOTSTRAP_SERVERS and FCFS_REDIS_URL"
        )
    outcomes = asyncio.run(reconcile_coupons(settings, coupon, dry_run=dry_run, wait=wait))
    if as_json:
        typer.echo(json.dumps([as_object(outcome) for outcome in outcomes]))
    elif not outcomes:
        typer.echo("no coupon was admitted through the Redis gate: nothing to reconcile")
    for outcome in [] if as_json else outcomes:
        typer.echo("\n".join(describe(outcome)))
    raise typer.Exit(0 if all(outcome.finished for outcome in outcomes) else NOT_DONE)


async def reconcile_coupons(
    settings: Settings, coupon_id: int | None, *, dry_run: bool, wait: float
) -> list[CouponReconciliation]:
    """One coupon, or (None) every coupon the gate admitted for; each given the whole `wait`, one after another."""
    from fcfs.adapters.sql.gate_coupons import gate_coupon_ids
    from fcfs.bootstrap.container import resolved
    from fcfs.bootstrap.pipeline import PipelineContainer, consumer_heartbeat_path, open_reconcile

    container = PipelineContainer(settings=settings, heartbeat_path=consumer_heartbeat_path(settings))
    async with open_reconcile(settings, container) as use_case:
        ids = [coupon_id] if coupon_id is not None else await gate_coupon_ids(await resolved(container.engine))
        # Each round is an audit row: `open_reconcile` hands out the audited use case.
        return [await reconcile_rounds(use_case, one, dry_run=dry_run, wait=wait) for one in ids]


def as_object(outcome: CouponReconciliation) -> dict[str, object]:
    """`--json`: the coupon, whether it finished, why not, and every round's report (with `consistent`)."""
    return {
        "coupon_id": outcome.coupon_id,
        "finished": outcome.finished,
        "error": outcome.error,
        "rounds": [{**dataclasses.asdict(report), "consistent": report.consistent} for report in outcome.rounds],
    }


def describe(outcome: CouponReconciliation) -> list[str]:
    """What the first round found, what every round did, and how it ended, as lines for a person."""
    lines = [f"coupon {outcome.coupon_id}:"]
    if outcome.rounds:
        lines.append(f"  found: {found(outcome.rounds[0])}")
    for number, report in enumerate(outcome.rounds, start=1):
        lines += [f"  round {number}: {action}" for action in did(report)]
    last = outcome.rounds[-1] if outcome.rounds else None
    if outcome.finished:
        lines.append(f"  done after {len(outcome.rounds)} round(s): the gate and the database agree")
        return lines
    reasons = [outcome.error] if outcome.error else []
    if last is not None:
        reasons += [*last.deferred, *last.failed]
        if last.republished:
            reasons.append("republished events are not rows yet: run again once the consumer wrote them (--wait)")
        if last.dry_run and not last.consistent:
            reasons.append("dry run: nothing was changed")
    lines += [f"  not finished: {reason}" for reason in reasons or ["left inconsistent"]]
    return lines


def found(report: ReconcileReport) -> str:
    stock = "not loaded" if report.gate_stock is None else str(report.gate_stock)
    return (
        f"{report.gate_users} users and stock {stock} in the gate, {report.rows} rows (total {report.total_quantity}), "
        f"consumer lag {report.consumer_lag}, {len(report.unconfirmed)} unconfirmed events; "
        f"{len(report.held_without_row)} gate users without a row, "
        f"{len(report.rows_without_hold)} rows the gate does not hold"
    )


def did(report: ReconcileReport) -> list[str]:
    dry = report.dry_run
    actions = []
    if report.republished:
        verb = "would republish" if dry else "republished"
        actions.append(f"{verb} {len(report.republished)} users' events: {_users(report.republished)}")
    if report.settled:
        verb = "would settle" if dry else "settled"
        actions.append(f"{verb} {len(report.settled)} unconfirmed events (their rows exist)")
    if report.rebuilt_stock is not None:
        verb = "would rebuild" if dry else "rebuilt"
        actions.append(f"{verb} the gate from the rows: stock {report.rebuilt_stock}, {report.rows} users")
    return actions


def _users(users: tuple[int, ...], shown: int = 10) -> str:
    more = f" … (+{len(users) - shown} more)" if len(users) > shown else ""
    return ", ".join(str(user) for user in users[:shown]) + more
