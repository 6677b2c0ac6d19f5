"""The consumer's batch writer, announcing each committed batch's results (docs/design.md §10)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from fcfs.domain.results import results_by_coupon
from fcfs.ports.repositories import IssuedBatchWriter

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from fcfs.domain.events import CouponIssued
    from fcfs.domain.issuance import PersistResult
    from fcfs.domain.results import CouponResults
    from fcfs.ports.notifications import IssueNotifier

log = structlog.get_logger("fcfs.consumer")

MAX_IN_FLIGHT = 64  # announcements not yet answered; past this Redis is not keeping up and new ones are dropped


class AnnouncingBatchWriter(IssuedBatchWriter):
    """Persists through `inner`, then announces one notification per coupon of the batch.

    `inner.persist_capped` returns only after the commit, so nothing is announced that a
    reader could not already see. Announcing never delays or fails persistence: each one runs
    as its own task, a failure is logged, and when `MAX_IN_FLIGHT` are pending the next are
    dropped (a listener still ends on its state read; the row itself is never at stake).
    """

    def __init__(
        self, inner: IssuedBatchWriter, notifier: IssueNotifier, clock: Callable[[], float] = time.time
    ) -> None:
        self._inner = inner
        self._notifier = notifier
        self._clock = clock
        self._in_flight: set[asyncio.Task[None]] = set()
        self.dropped = 0

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        result = await self._inner.persist_capped(events)
        for results in results_by_coupon(events, result, self._clock()):
            self._announce(results)
        return result

    def _announce(self, results: CouponResults) -> None:
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            self.dropped += 1
            log.warning("results_announcement_dropped", coupon=results.coupon_id, in_flight=MAX_IN_FLIGHT)
            return
        task = asyncio.create_task(self._publish(results))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _publish(self, results: CouponResults) -> None:
        try:
            await self._notifier.publish(results)
        except Exception as error:  # whatever it was, persistence goes on
            log.warning("results_announcement_failed", coupon=results.coupon_id, error=repr(error))

    async def drain(self) -> None:
        """Wait for the announcements in flight (tests, and a clean stop)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)


def announced_writer(inner: IssuedBatchWriter, notifier: IssueNotifier | None) -> IssuedBatchWriter:
    """`inner` announcing through `notifier`; `inner` itself when there is nowhere to announce."""
    return inner if notifier is None else AnnouncingBatchWriter(inner, notifier)
