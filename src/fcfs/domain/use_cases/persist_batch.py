"""The consumer's use case: persist a batch, dead-letter what never can be (docs/design.md §6.4–6.6)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.batch_cap import first_per_user
from fcfs.domain.errors import StorageError
from fcfs.domain.events import DeadLetterReason, DeadLetterSource, IssueDeadLettered
from fcfs.domain.issuance import PersistResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.domain.events import CouponIssued
    from fcfs.ports.consumer import ConsumedBatch, ConsumedEvent
    from fcfs.ports.publisher import DeadLetterPublisher
    from fcfs.ports.repositories import IssuedBatchWriter


@dataclass(frozen=True, slots=True)
class BatchReport:
    """How one consumed batch ended; the counters the consumer turns into metrics.

    `duplicates` are redeliveries (a row already existed, or the batch named the user
    twice); `rejected` are records that never were events; `dead_lettered` counts every
    letter written (rejected + over cap + unknown coupon); `attempts` is how many times the
    database was asked (1 when it never failed, 0 when the batch held no event).
    """

    inserted: int
    duplicates: int
    over_cap: int
    unknown_coupon: int
    rejected: int
    dead_lettered: int
    attempts: int


StorageRetryHook = Callable[[int, StorageError, float], None]


def _grant(consumed: ConsumedEvent) -> tuple[int, int]:
    return consumed.event.coupon_id, consumed.event.user_id


class ProcessIssuedBatch:
    """Persists a batch; returns only once the rows are committed and every dead letter is on its topic.

    The caller may then commit the batch's offsets. A `StorageError` is transient here by
    definition: it is retried with capped exponential backoff for as long as it lasts (the
    caller cancels to stop) and never dead-lettered. A dead letter that cannot be written
    raises `PublishFailed`: the caller must not commit and retries the whole batch, which
    adds no row, since persisting is idempotent (a redelivered letter may be written twice).
    """

    def __init__(
        self,
        issued: IssuedBatchWriter,
        dead_letters: DeadLetterPublisher,
        *,
        retry_initial_seconds: float = 0.05,
        retry_max_seconds: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_storage_retry: StorageRetryHook | None = None,
    ) -> None:
        self._issued = issued
        self._dead_letters = dead_letters
        self._initial = retry_initial_seconds
        self._max = max(retry_max_seconds, retry_initial_seconds)
        self._sleep = sleep
        self._on_retry = on_storage_retry

    async def execute(self, batch: ConsumedBatch) -> BatchReport:
        unique = first_per_user(batch.events, _grant)
        result, attempts = await self._persist([consumed.event for consumed in unique])
        letters = [
            IssueDeadLettered(record.raw_value, record.key, DeadLetterSource.CONSUMER, record.reason)
            for record in batch.rejected
        ]
        refused = {event_id: DeadLetterReason.OVER_CAP for event_id in result.over_cap}
        refused.update((event_id, DeadLetterReason.UNKNOWN_COUPON) for event_id in result.unknown_coupon)
        letters += [
            IssueDeadLettered(consumed.raw_value, consumed.key, DeadLetterSource.CONSUMER, reason, attempts)
            for consumed in unique
            if (reason := refused.get(consumed.event.event_id)) is not None
        ]
        await self._send(letters)
        return BatchReport(
            inserted=len(result.inserted),
            duplicates=len(result.duplicates) + len(batch.events) - len(unique),
            over_cap=len(result.over_cap),
            unknown_coupon=len(result.unknown_coupon),
            rejected=len(batch.rejected),
            dead_lettered=len(letters),
            attempts=attempts,
        )

    async def _persist(self, events: list[CouponIssued]) -> tuple[PersistResult, int]:
        if not events:
            return PersistResult(), 0
        delay = self._initial
        attempt = 1
        while True:
            try:
                return await self._issued.persist_capped(events), attempt
            except StorageError as error:
                if self._on_retry is not None:
                    self._on_retry(attempt, error, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self._max)
                attempt += 1

    async def _send(self, letters: Sequence[IssueDeadLettered]) -> None:
        """All letters are sent concurrently (the producer batches them); any failure raises after all settle."""
        outcomes = await asyncio.gather(
            *(self._dead_letters.dead_letter(letter) for letter in letters), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
