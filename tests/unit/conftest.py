"""Builders for a whole in-memory backend: the ports' twins wired into one `StrategyKit`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from fcfs.adapters.memory.clock import FixedClock
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.memory.locks import ProcessLock, ProcessSemaphore, ProcessSlotCounter, TimedProcessLock
from fcfs.adapters.memory.publisher import MemoryIssuePublisher, MemoryUnconfirmedEvents
from fcfs.adapters.memory.store import (
    MemoryCouponRepository,
    MemoryDatabase,
    MemoryIssuedCouponRepository,
    MemoryTransaction,
    MemoryUnitOfWork,
)
from fcfs.domain.coupon import Coupon, IssuedCoupon, NewCoupon, ValidityWindow
from fcfs.domain.errors import StorageError
from fcfs.domain.issuance import PersistResult
from fcfs.ports.repositories import IssuanceTransaction, UnitOfWork
from fcfs.ports.strategy import Capability, StrategyKit

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from contextlib import AbstractAsyncContextManager

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LOCK_WAIT_SECONDS = 60.0  # generous: unit tests assert on outcomes, not on timeouts
DB_PERMITS = 8


class InnoDbTransaction(IssuanceTransaction):
    """The memory transaction plus three things MariaDB does that the twin does not (yet).

    - An insert waits for another transaction's uncommitted insert of the same
      (coupon, user), then sees it as a duplicate (the unique index); the twin only
      compares with committed rows, so two in-flight inserts of one user both "succeed".
    - An UPDATE of the coupon row holds that row's lock until the transaction ends; the
      twin's conditional increment is visible to others before it commits.
    - A COMMIT can be slow (`commit_turns` event-loop turns: a flush to disk) or fail
      (`failing_commits`: `StorageError`, nothing written).
    """

    def __init__(self, inner: MemoryTransaction, uow: InnoDbUnitOfWork) -> None:
        self._inner = inner
        self._uow = uow
        self.inserted: list[tuple[int, int]] = []

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        if for_update and self._holds_row(coupon_id):
            return await self._inner.coupon(coupon_id)
        return await self._inner.coupon(coupon_id, for_update=for_update)

    async def count_issued(self, coupon_id: int) -> int:
        return await self._inner.count_issued(coupon_id)

    async def has_issued(self, coupon_id: int, user_id: int) -> bool:
        return await self._inner.has_issued(coupon_id, user_id)

    async def reserve_slot(self, coupon_id: int) -> bool:
        await self._lock_row(coupon_id)
        return await self._inner.reserve_slot(coupon_id)

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        await self._lock_row(coupon_id)
        await self._inner.add_to_issued_quantity(coupon_id, amount)

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        key = (coupon_id, user_id)
        while key not in self.inserted and (other := self._uow.inserting.get(key)) is not None:
            await other.wait()
        row = await self._inner.add_issued(coupon_id, user_id, event_id)
        if row is not None and key not in self.inserted:
            self._uow.inserting[key] = asyncio.Event()
            self.inserted.append(key)
        return row

    async def commit(self) -> None:
        for _ in range(self._uow.commit_turns):
            await asyncio.sleep(0)
        if self._uow.failing_commits > 0:
            self._uow.failing_commits -= 1
            raise StorageError("commit failed (test double)")
        await self._inner.commit()

    def _holds_row(self, coupon_id: int) -> bool:
        return self._uow.db.row_locks.get(coupon_id) in self._inner.held

    async def _lock_row(self, coupon_id: int) -> None:
        if not self._holds_row(coupon_id):
            await self._inner.coupon(coupon_id, for_update=True)


class InnoDbUnitOfWork(UnitOfWork):
    def __init__(self, db: MemoryDatabase, *, row_locks: bool = True, commit_turns: int = 0) -> None:
        self.db = db
        self._inner = MemoryUnitOfWork(db, row_locks=row_locks)
        self.commit_turns = commit_turns
        self.failing_commits = 0
        self.inserting: dict[tuple[int, int], asyncio.Event] = {}

    @property
    def supports_row_locks(self) -> bool:
        return self._inner.supports_row_locks

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[IssuanceTransaction]:
        tx: InnoDbTransaction | None = None
        try:
            async with self._inner.begin() as inner:
                assert isinstance(inner, MemoryTransaction)
                tx = InnoDbTransaction(inner, self)
                yield tx
        finally:
            for key in tx.inserted if tx is not None else ():
                self.inserting.pop(key).set()

    def begin(self) -> AbstractAsyncContextManager[IssuanceTransaction]:
        return self._transaction()


@dataclass
class MemoryWorld:
    """Every backend a strategy can see, in memory, with the handles tests arrange and inspect."""

    db: MemoryDatabase = field(default_factory=MemoryDatabase)
    gate: MemoryIssuanceGate = field(default_factory=MemoryIssuanceGate)
    publisher: MemoryIssuePublisher = field(default_factory=MemoryIssuePublisher)
    unconfirmed: MemoryUnconfirmedEvents = field(default_factory=MemoryUnconfirmedEvents)
    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW))
    row_locks: bool = True
    commit_turns: int = 0  # > 0: every COMMIT takes that many event-loop turns (a disk flush)

    def __post_init__(self) -> None:
        self.coupons = MemoryCouponRepository(self.db)
        self.issued = MemoryIssuedCouponRepository(self.db)
        self.uow = InnoDbUnitOfWork(self.db, row_locks=self.row_locks, commit_turns=self.commit_turns)
        capabilities = {Capability.SQL, Capability.REDIS, Capability.BROKER}
        if self.row_locks:
            capabilities.add(Capability.ROW_LOCKS)
        self.kit = StrategyKit(
            clock=self.clock,
            uow=self.uow,
            issued=self.issued,
            capabilities=frozenset(capabilities),
            process_lock=ProcessLock(),
            timed_lock=TimedProcessLock(LOCK_WAIT_SECONDS),
            db_permits=ProcessSemaphore(DB_PERMITS, LOCK_WAIT_SECONDS),
            slots=ProcessSlotCounter(),
            gate=self.gate,
            distributed_lock=TimedProcessLock(LOCK_WAIT_SECONDS),  # stands in for the Redis lock
            spin_lock=TimedProcessLock(LOCK_WAIT_SECONDS),  # stands in for the Redis spin lock
            publisher=self.publisher,
            unconfirmed=self.unconfirmed,
        )

    async def coupon(self, total: int, window: ValidityWindow | None = None, *, load: bool = True) -> Coupon:
        """A stored coupon, its whole stock loaded into the gate unless `load` is False."""
        coupon = await self.coupons.add(NewCoupon("launch", total, window or ValidityWindow()))
        if load:
            await self.gate.load_stock(coupon.id, total, set())
        return coupon

    def rows(self, coupon_id: int) -> list[IssuedCoupon]:
        return self.db.rows_of(coupon_id)

    def stored(self, coupon_id: int) -> Coupon:
        return self.db.coupons[coupon_id]

    async def drain_published(self) -> PersistResult:
        """What the consumer does: persist every published event as one capped batch."""
        return await self.issued.persist_capped(self.publisher.drain())


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


@pytest.fixture(params=["fast-route", "litestar-handler"])
def both_issue_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs an HTTP test once through the fast issue route and once through the Litestar handler."""
    if request.param == "litestar-handler":
        from fcfs.entrypoints.http.issue_route import IssueRoute

        monkeypatch.setattr(IssueRoute, "coupon_of", lambda self, scope: None)
    return str(request.param)
