"""The use cases: create a coupon, load its stock, issue it, read its state, persist batches.

They speak only to ports, so the same code runs on Redis + Kafka + MariaDB, on the
embedded default and on the in-memory twins of the unit tests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from fcfs.domain.coupon import Coupon, NewCoupon, ValidityWindow, WindowState, ensure_id, require
from fcfs.domain.errors import (
    CouponNotFound,
    InvalidInput,
    PublishFailed,
    PublishOutcomeUnknown,
    StockConflict,
    StorageError,
)
from fcfs.domain.events import CouponIssued, DeadLetterReason, DeadLetterSource, IssueDeadLettered
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus, PersistResult, UserIssueState

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.ports.clock import Clock
    from fcfs.ports.consumer import ConsumedBatch, ConsumedEvent
    from fcfs.ports.gate import IssuanceGate
    from fcfs.ports.lag import ConsumerLag
    from fcfs.ports.publisher import DeadLetterPublisher, IssueEventPublisher, UnconfirmedEvents
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository
    from fcfs.ports.strategy import StrategyCatalog


class CreateCoupon:
    def __init__(self, coupons: CouponRepository) -> None:
        self._coupons = coupons

    async def execute(self, new: NewCoupon) -> Coupon:
        return await self._coupons.add(new)


@dataclass(frozen=True, slots=True)
class StockLoaded:
    coupon_id: int
    stock: int
    issued_users: int


class LoadStock:
    """Puts a coupon's stock into the gate, with the users the database and the gate already hold.

    Default stock is what is not issued yet; asking for more would let the gate admit users
    the database cap must then refuse, so it is a conflict. Users the gate admitted whose
    rows do not exist yet (their events are in flight) stay admitted and keep their units:
    dropping them would admit them twice and sell their units again (invariant 3).
    """

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, quantity: int | None = None) -> StockLoaded:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        users = await self._issued.user_ids(coupon_id)
        if self._gate is not None:
            users |= await self._gate.users(coupon_id)
        left = max(coupon.total_quantity - len(users), 0)
        if quantity is None:
            quantity = left
        elif type(quantity) is not int or quantity < 0:
            raise InvalidInput("quantity must be a non-negative integer")
        elif quantity > left:
            raise StockConflict(f"quantity {quantity} exceeds the {left} units not yet issued")
        if self._gate is not None:
            await self._gate.load_stock(coupon_id, quantity, users)
        return StockLoaded(coupon_id, quantity, len(users))


class CouponWindows:
    """A per-process cache of coupon windows, so an issue attempt costs no database read.

    Windows never change after creation; a coupon that does not exist is remembered for a
    short time only, so a flood of requests for it costs one query per `miss_ttl`.
    """

    def __init__(self, coupons: CouponRepository, miss_ttl: float = 1.0) -> None:
        self._coupons = coupons
        self._known: dict[int, ValidityWindow] = {}
        self._missing: dict[int, float] = {}
        self._miss_ttl = miss_ttl
        self._loading: dict[int, asyncio.Lock] = {}

    async def window(self, coupon_id: int) -> ValidityWindow:
        window = self._known.get(coupon_id)
        if window is not None:
            return window
        # Single flight: a burst that starts cold asks the database once, not once per request.
        async with self._loading.setdefault(coupon_id, asyncio.Lock()):
            window = self._known.get(coupon_id)
            if window is not None:
                return window
            missed_at = self._missing.get(coupon_id)
            if missed_at is not None and time.monotonic() - missed_at < self._miss_ttl:
                raise CouponNotFound(f"coupon {coupon_id} does not exist")
            coupon = await self._coupons.get(coupon_id)
            if coupon is None:
                self._missing[coupon_id] = time.monotonic()
                raise CouponNotFound(f"coupon {coupon_id} does not exist")
            self._missing.pop(coupon_id, None)
            self._known[coupon_id] = coupon.window
            return coupon.window

    def forget(self, coupon_id: int) -> None:
        self._known.pop(coupon_id, None)
        self._missing.pop(coupon_id, None)
        self._loading.pop(coupon_id, None)


class IssueCoupon:
    def __init__(self, windows: CouponWindows, strategies: StrategyCatalog, clock: Clock) -> None:
        self._windows = windows
        self._strategies = strategies
        self._clock = clock

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        chosen = self._strategies.get(strategy)
        window = await self._windows.window(command.coupon_id)
        if window.state_at(self._clock.now()) is not WindowState.OPEN:
            return IssueOutcome(IssueStatus.NOT_OPEN, command.coupon_id, command.user_id)
        return await chosen.issue(command)


@dataclass(frozen=True, slots=True)
class CouponView:
    coupon: Coupon
    remaining: int
    issued_count: int
    stock_loaded: bool


class ReadCoupon:
    """Issued count is the rows that exist; remaining is the gate's stock when it has one."""

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int) -> CouponView:
        ensure_id(coupon_id, "couponId")
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        issued_count = await self._issued.count(coupon_id)
        gate_stock = await self._gate.remaining(coupon_id) if self._gate is not None else None
        if gate_stock is None:
            return CouponView(coupon, max(coupon.total_quantity - issued_count, 0), issued_count, False)
        return CouponView(coupon, gate_stock, issued_count, True)


class ReadUserIssue:
    """A row means issued; a user the gate admitted without a row yet is pending."""

    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int, user_id: int) -> UserIssueState:
        ensure_id(coupon_id, "couponId")
        ensure_id(user_id, "userId")
        require(await self._coupons.get(coupon_id), coupon_id)
        if await self._issued.find(coupon_id, user_id) is not None:
            return UserIssueState.ISSUED
        if self._gate is not None and await self._gate.holds_user(coupon_id, user_id):
            return UserIssueState.PENDING
        return UserIssueState.NONE


class DeleteCoupon:
    def __init__(self, coupons: CouponRepository, gate: IssuanceGate | None, windows: CouponWindows) -> None:
        self._coupons = coupons
        self._gate = gate
        self._windows = windows

    async def execute(self, coupon_id: int) -> None:
        ensure_id(coupon_id, "couponId")
        if not await self._coupons.delete(coupon_id):
            raise CouponNotFound(f"coupon {coupon_id} does not exist")
        if self._gate is not None:
            await self._gate.forget(coupon_id)
        self._windows.forget(coupon_id)


@dataclass(frozen=True, slots=True)
class CouponAudit:
    """What the stores hold for one coupon, for checking the invariants of DESIGN.md §1."""

    coupon_id: int
    total_quantity: int
    issued_quantity: int
    rows: int
    row_users: frozenset[int]
    gate_remaining: int | None
    gate_users: frozenset[int]

    @property
    def over_issued(self) -> int:
        return max(self.rows - self.total_quantity, 0)

    @property
    def duplicate_rows(self) -> int:
        return self.rows - len(self.row_users)


class AuditCoupon:
    def __init__(self, coupons: CouponRepository, issued: IssuedCouponRepository, gate: IssuanceGate | None) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate

    async def execute(self, coupon_id: int) -> CouponAudit:
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        rows = await self._issued.count(coupon_id)
        users = frozenset(await self._issued.user_ids(coupon_id))
        remaining = await self._gate.remaining(coupon_id) if self._gate is not None else None
        gate_users = frozenset(await self._gate.users(coupon_id)) if self._gate is not None else frozenset()
        return CouponAudit(coupon_id, coupon.total_quantity, coupon.issued_quantity, rows, users, remaining, gate_users)


@dataclass(frozen=True, slots=True)
class BatchReport:
    """How one consumed batch ended; the counters the consumer turns into metrics.

    `duplicates` are redeliveries (a row already existed, or the batch named the user
    twice); `rejected` are records that never were events; `dead_lettered` counts every
    letter written (rejected + over cap + unknown coupon); `attempts` is how many times the
    database was asked (1 when it never failed, 0 when the batch held no event).
    """

    inserted: int = 0
    duplicates: int = 0
    over_cap: int = 0
    unknown_coupon: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    attempts: int = 0


StorageRetryHook = Callable[[int, StorageError, float], None]


class ProcessIssuedBatch:
    """The consumer's use case (DESIGN.md §6.4–6.6): persist a batch, dead-letter what never can be.

    Returns only once the rows are committed and every dead letter is on its topic, so the
    caller may then commit the batch's offsets. A `StorageError` is transient here by
    definition: it is retried with capped exponential backoff for as long as it lasts (the
    caller cancels to stop) and never dead-lettered. A dead letter that cannot be written
    raises `PublishFailed`: the caller must not commit and retries the whole batch, which
    adds no row, since persisting is idempotent (a redelivered letter may be written twice).
    """

    def __init__(
        self,
        issued: IssuedCouponRepository,
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
        unique = _first_per_user(batch.events)
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


def _first_per_user(events: Sequence[ConsumedEvent]) -> list[ConsumedEvent]:
    """One event per (coupon, user): later ones in the same batch are redeliveries of the same grant."""
    seen: set[tuple[int, int]] = set()
    unique: list[ConsumedEvent] = []
    for consumed in events:
        key = (consumed.event.coupon_id, consumed.event.user_id)
        if key not in seen:
            seen.add(key)
            unique.append(consumed)
    return unique


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What `fcfs reconcile` found for one coupon and what it did (or, on a dry run, would do).

    `held_without_row`: users the gate admitted with no row yet (in flight, or lost);
    `rows_without_hold`: rows whose user the gate does not hold (the gate lost state);
    `unconfirmed`: events whose publish outcome was unknown. `republished` are the users
    whose event went (would go) to the broker again, `settled` the unconfirmed events closed
    because their row exists, `rebuilt_stock` the stock written to the gate from the
    database (None: not rebuilt), `deferred` why a repair was held back, `failed` the
    republishes the broker refused (retried on the next run).
    """

    coupon_id: int
    total_quantity: int
    consumer_lag: int
    rows: int
    gate_stock: int | None
    gate_users: int
    held_without_row: tuple[int, ...]
    rows_without_hold: tuple[int, ...]
    unconfirmed: tuple[str, ...]
    republished: tuple[int, ...]
    settled: tuple[str, ...]
    rebuilt_stock: int | None
    deferred: tuple[str, ...]
    failed: tuple[str, ...]
    dry_run: bool

    @property
    def consistent(self) -> bool:
        """Gate and database agree, nothing is unconfirmed and the gate conserves the total (invariant 5)."""
        return (
            not self.held_without_row
            and not self.rows_without_hold
            and not self.unconfirmed
            and self.gate_stock is not None
            and self.gate_stock + self.gate_users == self.total_quantity
        )


@dataclass(frozen=True, slots=True)
class _Observed:
    coupon: Coupon
    lag: int
    gate_stock: int | None
    gate_users: set[int]
    rows: set[int]
    unconfirmed: list[CouponIssued]


class Reconcile:
    """DESIGN.md §6.7: bring the gate, the broker and the database back into agreement for one coupon.

    A user the gate holds without a row is republished (a fresh event, or the recorded
    unconfirmed one) only once the consumer lag is zero, so an event still on its way is
    not mistaken for a lost one; a recorded unconfirmed event is also republished once it
    is older than the grace period, whatever the lag. Republishing is safe because the
    consumer persists idempotently. Unconfirmed events whose row exists are settled. The
    gate's stock is rebuilt from the database (`total - rows`, the rows' users) only when
    the lag is zero and no user is pending or unconfirmed, since otherwise the database is
    not yet the whole truth. A dry run observes and plans, and changes nothing.
    """

    def __init__(
        self,
        coupons: CouponRepository,
        issued: IssuedCouponRepository,
        gate: IssuanceGate,
        publisher: IssueEventPublisher,
        unconfirmed: UnconfirmedEvents,
        lag: ConsumerLag,
        clock: Clock,
        *,
        grace_seconds: float = 30.0,
        new_event_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._coupons = coupons
        self._issued = issued
        self._gate = gate
        self._publisher = publisher
        self._unconfirmed = unconfirmed
        self._lag = lag
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self._new_event_id = new_event_id

    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
        ensure_id(coupon_id, "couponId")
        seen = await self._observe(coupon_id)
        republish, deferred = self._plan_republish(seen)
        settle = [event for event in seen.unconfirmed if event.user_id in seen.rows]
        rebuild = self._plan_rebuild(seen, deferred)
        failed: list[str] = []
        if not dry_run:
            failed = await self._republish(republish)
            if republish:
                rows_now = await self._issued.user_ids(coupon_id)
                settle = [event for event in seen.unconfirmed if event.user_id in rows_now]
            for event in settle:
                await self._unconfirmed.settle(event)
            if rebuild is not None:
                await self._gate.load_stock(coupon_id, rebuild, seen.rows)
        return ReconcileReport(
            coupon_id=coupon_id,
            total_quantity=seen.coupon.total_quantity,
            consumer_lag=seen.lag,
            rows=len(seen.rows),
            gate_stock=seen.gate_stock,
            gate_users=len(seen.gate_users),
            held_without_row=tuple(sorted(seen.gate_users - seen.rows)),
            rows_without_hold=tuple(sorted(seen.rows - seen.gate_users)),
            unconfirmed=tuple(event.event_id for event in seen.unconfirmed),
            republished=tuple(event.user_id for event in republish),
            settled=tuple(event.event_id for event in settle),
            rebuilt_stock=rebuild,
            deferred=tuple(deferred),
            failed=tuple(failed),
            dry_run=dry_run,
        )

    async def _observe(self, coupon_id: int) -> _Observed:
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        lag = await self._lag.total_lag()  # first: anything committed after this is in the rows read below
        return _Observed(
            coupon=coupon,
            lag=lag,
            gate_stock=await self._gate.remaining(coupon_id),
            gate_users=await self._gate.users(coupon_id),
            rows=await self._issued.user_ids(coupon_id),
            unconfirmed=await self._unconfirmed.list(coupon_id),
        )

    def _plan_republish(self, seen: _Observed) -> tuple[list[CouponIssued], list[str]]:
        """The recorded event for a user who has one (oldest first), else a fresh one; never two per user."""
        now = self._clock.now()
        recorded: dict[int, CouponIssued] = {}
        for unsure in sorted(seen.unconfirmed, key=lambda event: event.issued_at):
            recorded.setdefault(unsure.user_id, unsure)
        republish: list[CouponIssued] = []
        waiting = 0
        for user_id in sorted((seen.gate_users | recorded.keys()) - seen.rows):
            event = recorded.get(user_id)
            if event is not None and (seen.lag == 0 or now - event.issued_at >= self._grace):
                republish.append(event)
            elif event is None and seen.lag == 0:
                republish.append(CouponIssued(self._new_event_id(), seen.coupon.id, user_id, now))
            else:
                waiting += 1
        deferred = [f"{waiting} users without a row wait: consumer lag is {seen.lag}"] if waiting else []
        return republish, deferred

    def _plan_rebuild(self, seen: _Observed, deferred: list[str]) -> int | None:
        stock = max(seen.coupon.total_quantity - len(seen.rows), 0)
        if seen.gate_stock == stock and seen.gate_users == seen.rows:
            return None
        if seen.gate_stock is None and not seen.rows and not seen.gate_users:
            deferred.append("stock was never loaded: load it with `POST .../stock`")
            return None
        pending = (seen.gate_users - seen.rows) or {event.user_id for event in seen.unconfirmed} - seen.rows
        if seen.lag != 0 or pending:
            deferred.append(f"gate stock not rebuilt: consumer lag is {seen.lag}, {len(pending)} users pending")
            return None
        return stock

    async def _republish(self, events: list[CouponIssued]) -> list[str]:
        """Publish each; an unknown outcome is recorded for the next run, a certain failure only reported."""
        failed: list[str] = []
        for event in events:
            try:
                await self._publisher.publish(event)
            except PublishOutcomeUnknown:
                await self._unconfirmed.record(event)
                failed.append(f"user {event.user_id}: publish outcome unknown, recorded")
            except PublishFailed as error:
                failed.append(f"user {event.user_id}: {error.detail}")
        return failed
