"""A whole in-memory backend for unit tests: the ports' twins wired into one `StrategyKit`, with handles to arrange and inspect."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points

from fcfs.adapters.memory.clock import FixedClock
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.memory.innodb import InnoDbUnitOfWork
from fcfs.adapters.memory.locks import ProcessLock, ProcessSemaphore, ProcessSlotCounter, TimedProcessLock
from fcfs.adapters.memory.publisher import MemoryIssuePublisher, MemoryUnconfirmedEvents
from fcfs.adapters.memory.store import MemoryCouponRepository, MemoryDatabase, MemoryIssuedCouponRepository
from fcfs.domain.coupon import Coupon, IssuedCoupon, NewCoupon, ValidityWindow
from fcfs.domain.issuance import PersistResult
from fcfs.ports.strategy import IssueStrategy, StrategyKit

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LOCK_WAIT_SECONDS = 60.0  # generous: unit tests assert on outcomes, not on timeouts
DB_PERMITS = 8


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
        self.kit = StrategyKit(
            clock=self.clock,
            uow=self.uow,
            issued=self.issued,
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


def build(name: str, world: MemoryWorld) -> IssueStrategy:
    """The installed strategy `name` (through its entry point, as the registry finds it) over `world`'s kit."""
    (point,) = entry_points(group="fcfs.strategies", name=name)
    strategy: IssueStrategy = point.load()(world.kit)
    return strategy
