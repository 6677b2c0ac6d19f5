"""The seam every issue strategy plugs into, and the kit of ports it may compose.

A strategy is a class registered under the entry-point group `fcfs.strategies`. It is
built with a `StrategyKit` holding only ports; the container fills the kit with the
adapters the configured backends provide and leaves the rest `None`. A strategy states
what it `needs`, so the registry can refuse (with a reason) to build one that cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome
    from fcfs.ports.clock import Clock
    from fcfs.ports.gate import IssuanceGate
    from fcfs.ports.locks import KeyedLock, SlotCounter
    from fcfs.ports.publisher import IssueEventPublisher, UnconfirmedEvents
    from fcfs.ports.repositories import IssuedCoupons, UnitOfWork


class Capability(StrEnum):
    SQL = "sql"
    ROW_LOCKS = "row-locks"
    REDIS = "redis"
    BROKER = "broker"


class StrategyCard(Protocol):
    """What the registry, the CLI and the scale-out refusal read from a strategy class."""

    name: ClassVar[str]
    description: ClassVar[str]  # one line
    cross_process_safe: ClassVar[bool]
    needs: ClassVar[frozenset[Capability]]


class IssueStrategy(StrategyCard, Protocol):
    async def issue(self, command: IssueCommand) -> IssueOutcome:
        """Try to issue; business refusals are outcomes, infrastructure failures are `FcfsError`s."""
        ...


class StrategyFactory(StrategyCard, Protocol):
    """What an entry point must resolve to: a class built from the kit."""

    def __call__(self, kit: StrategyKit) -> IssueStrategy: ...


class StrategyCatalog(Protocol):
    """Finds built strategies by name (entry points in production, a dict in unit tests)."""

    @property
    def default_name(self) -> str: ...

    def get(self, name: str | None = None) -> IssueStrategy:
        """The named (or default) strategy; raises `UnknownStrategy` or `StrategyUnavailable`."""
        ...


@dataclass(frozen=True, slots=True)
class StrategyKit:
    """Ports a strategy may use. Process-local ones are shared by all strategies of one process."""

    clock: Clock
    uow: UnitOfWork
    issued: IssuedCoupons
    process_lock: KeyedLock  # one lock per key for the whole process, unbounded wait
    timed_lock: KeyedLock  # process-local, bounded wait (the ReentrantLock.tryLock of the original)
    db_permits: KeyedLock  # process-local semaphore: N permits, bounded wait
    slots: SlotCounter
    gate: IssuanceGate | None = None
    distributed_lock: KeyedLock | None = None  # Redis lock with lease and bounded wait
    spin_lock: KeyedLock | None = None  # Redis SET NX PX retried with backoff
    publisher: IssueEventPublisher | None = None
    unconfirmed: UnconfirmedEvents | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the ports in this kit can serve, so no builder restates it beside them.

        SQL is always there (the kit needs a unit of work); row locks when that unit of work
        has them; Redis with the gate; the broker with the publisher.
        """
        found = {Capability.SQL}
        if self.uow.supports_row_locks:
            found.add(Capability.ROW_LOCKS)
        if self.gate is not None:
            found.add(Capability.REDIS)
        if self.publisher is not None:
            found.add(Capability.BROKER)
        return frozenset(found)
