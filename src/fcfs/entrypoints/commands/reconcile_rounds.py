"""Reconciliation rounds for one coupon, repeated until nothing is left to do or the operator's wait ran out.

One `Reconcile` run cannot always finish: it defers the gate's rebuild while the consumer
lags (docs/design.md §6.7), and a user it republishes is only settled once the consumer wrote
the row. `fcfs reconcile --wait S` therefore runs rounds until one finds nothing left, and
says (exit 1) when the wait ran out first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.errors import CouponNotFound, FcfsError, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fcfs.domain.use_cases import ReconcileReport
    from fcfs.ports.use_cases import Reconciles

ROUND_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class CouponReconciliation:
    """Every round run on one coupon, oldest first; `error` when the last attempt could not run at all."""

    coupon_id: int
    rounds: tuple[ReconcileReport, ...]
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.error is None and bool(self.rounds) and round_finished(self.rounds[-1])


def round_finished(report: ReconcileReport) -> bool:
    """Nothing is left to do after this round.

    Either it found the gate and the database in agreement, or (not a dry run) it repaired
    everything it found in place: nothing deferred, nothing failed, and no republished
    event whose row the next round must still see (until then the user is not settled).
    """
    if report.consistent:
        return True
    return not (report.dry_run or report.deferred or report.failed or report.republished)


async def reconcile_rounds(
    use_case: Reconciles[ReconcileReport],
    coupon_id: int,
    *,
    dry_run: bool,
    wait: float,
    interval: float = ROUND_INTERVAL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> CouponReconciliation:
    """Rounds until one finishes or `wait` seconds passed; a temporary failure (broker, Redis) is retried too."""
    deadline = clock() + wait
    rounds: list[ReconcileReport] = []
    while True:
        error = None
        try:
            report = await use_case.execute(coupon_id, dry_run=dry_run)
        except (CouponNotFound, InvalidInput) as refused:
            return CouponReconciliation(coupon_id, tuple(rounds), refused.detail)
        except FcfsError as failure:
            error = failure.detail
        else:
            rounds.append(report)
            if round_finished(report):
                return CouponReconciliation(coupon_id, tuple(rounds))
        if clock() + interval > deadline:
            return CouponReconciliation(coupon_id, tuple(rounds), error)
        await sleep(interval)
