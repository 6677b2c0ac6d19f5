"""The consumer's batch use case (docs/design.md §6.4–6.6) on the in-memory twins.

Each defect of the original's consumer is a case here: a redelivered event made a second
row; one bad record sent the whole batch to the dead-letter topic; nothing was retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from fcfs.adapters.kafka.codec import encode_event, event_key
from fcfs.adapters.memory.publisher import MemoryDeadLetterPublisher
from fcfs.domain.coupon import IssuedCoupon
from fcfs.domain.errors import PublishFailed, StorageError
from fcfs.domain.events import CouponIssued, DeadLetterReason, DeadLetterSource
from fcfs.domain.issuance import PersistResult
from fcfs.domain.use_cases import ProcessIssuedBatch
from fcfs.ports.consumer import ConsumedBatch, ConsumedEvent, RejectedRecord
from fcfs.ports.repositories import IssuedCouponRepository
from tests.support.memory_world import MemoryWorld

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def consumed(coupon_id: int, user_id: int, event_id: str | None = None) -> ConsumedEvent:
    event = CouponIssued(event_id or str(uuid.uuid4()), coupon_id, user_id, NOW)
    return ConsumedEvent(event, encode_event(event), event_key(event))


def batch(*events: ConsumedEvent, rejected: Sequence[RejectedRecord] = ()) -> ConsumedBatch:
    return ConsumedBatch(tuple(events), tuple(rejected))


def poison(raw: bytes, reason: DeadLetterReason = DeadLetterReason.UNDECODABLE) -> RejectedRecord:
    return RejectedRecord(raw, b"k", reason, "test")


class FlakyIssued(IssuedCouponRepository):
    """The memory repository behind a database that fails the first `failures` batches."""

    def __init__(self, inner: IssuedCouponRepository, failures: int) -> None:
        self._inner = inner
        self.failures = failures
        self.calls = 0

    async def find(self, coupon_id: int, user_id: int) -> IssuedCoupon | None:
        return await self._inner.find(coupon_id, user_id)

    async def count(self, coupon_id: int) -> int:
        return await self._inner.count(coupon_id)

    async def user_ids(self, coupon_id: int) -> set[int]:
        return await self._inner.user_ids(coupon_id)

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("connection lost (test double)")
        return await self._inner.persist_capped(events)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def letters() -> MemoryDeadLetterPublisher:
    return MemoryDeadLetterPublisher()


def use_case(world: MemoryWorld, letters: MemoryDeadLetterPublisher, **kwargs: object) -> ProcessIssuedBatch:
    return ProcessIssuedBatch(world.issued, letters, sleep=Sleeps(), **kwargs)  # type: ignore[arg-type]


async def test_a_batch_of_new_events_becomes_one_row_each(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)

    report = await use_case(world, letters).execute(batch(*(consumed(coupon.id, user) for user in range(1, 6))))

    assert sorted(row.user_id for row in world.rows(coupon.id)) == [1, 2, 3, 4, 5]
    assert world.stored(coupon.id).issued_quantity == 5
    assert (report.inserted, report.duplicates, report.dead_lettered, report.attempts) == (5, 0, 0, 1)
    assert letters.letters == []


async def test_a_redelivered_batch_adds_no_rows_and_no_dead_letters(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    delivered = batch(*(consumed(coupon.id, user) for user in range(1, 4)))
    process = use_case(world, letters)
    await process.execute(delivered)

    again = await process.execute(delivered)

    assert len(world.rows(coupon.id)) == 3
    assert world.stored(coupon.id).issued_quantity == 3
    assert (again.inserted, again.duplicates) == (0, 3)
    assert letters.letters == []


async def test_the_same_user_twice_in_one_batch_gets_one_row(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    first = consumed(coupon.id, 7)

    report = await use_case(world, letters).execute(batch(first, consumed(coupon.id, 7), first))

    assert [row.user_id for row in world.rows(coupon.id)] == [7]
    assert world.rows(coupon.id)[0].event_id == first.event.event_id
    assert (report.inserted, report.duplicates, report.dead_lettered) == (1, 2, 0)


async def test_poison_records_are_dead_lettered_while_the_valid_ones_of_the_batch_persist(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    bad = [poison(b"not json"), poison(b'{"version": 9}', DeadLetterReason.UNKNOWN_VERSION)]

    report = await use_case(world, letters).execute(batch(consumed(coupon.id, 1), consumed(coupon.id, 2), rejected=bad))

    assert sorted(row.user_id for row in world.rows(coupon.id)) == [1, 2]
    assert [(letter.raw_value, letter.reason) for letter in letters.letters] == [
        (b"not json", DeadLetterReason.UNDECODABLE),
        (b'{"version": 9}', DeadLetterReason.UNKNOWN_VERSION),
    ]
    assert all(letter.source is DeadLetterSource.CONSUMER and letter.key == b"k" for letter in letters.letters)
    assert (report.inserted, report.rejected, report.dead_lettered) == (2, 2, 2)


async def test_events_past_the_cap_are_dead_lettered_as_over_cap_with_their_original_bytes(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(3)
    events = [consumed(coupon.id, user) for user in range(1, 6)]

    report = await use_case(world, letters).execute(batch(*events))

    assert len(world.rows(coupon.id)) == 3
    assert world.stored(coupon.id).issued_quantity == 3
    assert report.over_cap == 2
    assert [letter.reason for letter in letters.letters] == [DeadLetterReason.OVER_CAP] * 2
    assert {(letter.raw_value, letter.key) for letter in letters.letters} == {
        (event.raw_value, event.key) for event in events[3:]
    }


async def test_an_event_for_a_coupon_that_does_not_exist_is_dead_lettered_as_unknown_coupon(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(3)
    stray = consumed(999, 1)

    report = await use_case(world, letters).execute(batch(consumed(coupon.id, 1), stray))

    assert len(world.rows(coupon.id)) == 1
    assert report.unknown_coupon == 1
    assert [(letter.raw_value, letter.reason) for letter in letters.letters] == [
        (stray.raw_value, DeadLetterReason.UNKNOWN_COUPON)
    ]


async def test_a_storage_error_is_retried_until_it_succeeds_and_nothing_is_dead_lettered(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    flaky = FlakyIssued(world.issued, failures=4)
    sleeps = Sleeps()
    process = ProcessIssuedBatch(flaky, letters, retry_initial_seconds=0.1, retry_max_seconds=0.5, sleep=sleeps)

    report = await process.execute(batch(consumed(coupon.id, 1), consumed(coupon.id, 2)))

    assert len(world.rows(coupon.id)) == 2
    assert letters.letters == []
    assert (flaky.calls, report.attempts) == (5, 5)
    assert sleeps.delays == [0.1, 0.2, 0.4, 0.5]


async def test_over_cap_letters_carry_the_number_of_attempts_it_took(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(1)
    process = ProcessIssuedBatch(FlakyIssued(world.issued, failures=2), letters, sleep=Sleeps())

    await process.execute(batch(consumed(coupon.id, 1), consumed(coupon.id, 2)))

    assert [(letter.reason, letter.attempts) for letter in letters.letters] == [(DeadLetterReason.OVER_CAP, 3)]


async def test_each_storage_retry_is_reported_to_the_hook(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    seen: list[int] = []
    process = ProcessIssuedBatch(
        FlakyIssued(world.issued, failures=2),
        letters,
        sleep=Sleeps(),
        on_storage_retry=lambda attempt, _error, _delay: seen.append(attempt),
    )

    await process.execute(batch(consumed(coupon.id, 1)))

    assert seen == [1, 2]


async def test_a_dead_letter_that_cannot_be_written_fails_the_batch_and_the_redo_adds_no_rows(
    world: MemoryWorld, letters: MemoryDeadLetterPublisher
) -> None:
    coupon = await world.coupon(10)
    delivered = batch(consumed(coupon.id, 1), rejected=[poison(b"garbage")])
    process = use_case(world, letters)
    letters.failing = True

    with pytest.raises(PublishFailed):
        await process.execute(delivered)

    letters.failing = False
    report = await process.execute(delivered)
    assert len(world.rows(coupon.id)) == 1
    assert (report.inserted, report.duplicates) == (0, 1)
    assert [letter.raw_value for letter in letters.letters] == [b"garbage"]


async def test_an_empty_batch_touches_nothing(world: MemoryWorld, letters: MemoryDeadLetterPublisher) -> None:
    flaky = FlakyIssued(world.issued, failures=0)

    report = await ProcessIssuedBatch(flaky, letters).execute(ConsumedBatch())

    assert flaky.calls == 0
    assert report.attempts == 0
