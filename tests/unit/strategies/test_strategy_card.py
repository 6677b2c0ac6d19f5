"""A strategy declares its card once; the kit says what it can serve, so no builder restates it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fcfs.adapters.memory.clock import FixedClock
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.memory.locks import ProcessLock, ProcessSemaphore, ProcessSlotCounter, TimedProcessLock
from fcfs.adapters.memory.publisher import MemoryIssuePublisher
from fcfs.adapters.memory.store import MemoryDatabase, MemoryIssuedCouponRepository, MemoryUnitOfWork
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus
from fcfs.ports.strategy import Capability, StrategyKit
from fcfs.strategies.plugin import Strategy


def kit(*, row_locks: bool, redis: bool, broker: bool) -> StrategyKit:
    db = MemoryDatabase()
    return StrategyKit(
        clock=FixedClock(datetime(2024, 1, 1, tzinfo=UTC)),
        uow=MemoryUnitOfWork(db, row_locks=row_locks),
        issued=MemoryIssuedCouponRepository(db),
        process_lock=ProcessLock(),
        timed_lock=TimedProcessLock(1.0),
        db_permits=ProcessSemaphore(1, 1.0),
        slots=ProcessSlotCounter(),
        gate=MemoryIssuanceGate() if redis else None,
        publisher=MemoryIssuePublisher() if broker else None,
    )


def test_a_kit_with_only_a_database_without_row_locks_serves_sql_alone() -> None:
    assert kit(row_locks=False, redis=False, broker=False).capabilities == {Capability.SQL}


def test_a_kit_with_every_backend_serves_every_capability() -> None:
    assert kit(row_locks=True, redis=True, broker=True).capabilities == set(Capability)


def test_the_gate_brings_redis_and_the_publisher_brings_the_broker() -> None:
    assert kit(row_locks=False, redis=True, broker=False).capabilities == {Capability.SQL, Capability.REDIS}
    assert kit(row_locks=False, redis=False, broker=True).capabilities == {Capability.SQL, Capability.BROKER}


class Refusing(Strategy, name="refusing", cross_process_safe=True, needs=[Capability.SQL]):
    """Refuses everyone, politely.

    Exists to show the card: the summary line above is the description.
    """

    def __init__(self, kit: StrategyKit) -> None:
        self._kit = kit

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return IssueOutcome(IssueStatus.SOLD_OUT, command.coupon_id, command.user_id)


def test_the_card_is_read_from_the_class_keywords_and_the_docstring_summary() -> None:
    assert (Refusing.name, Refusing.description) == ("refusing", "Refuses everyone, politely")
    assert Refusing.cross_process_safe is True
    assert Refusing.needs == frozenset({Capability.SQL})


def test_a_strategy_without_a_docstring_summary_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="'silent' must declare"):

        class Silent(Strategy, name="silent", cross_process_safe=False, needs={Capability.SQL}):
            async def issue(self, command: IssueCommand) -> IssueOutcome:
                raise NotImplementedError


def test_an_intermediate_base_without_a_name_declares_nothing() -> None:
    class Base(Strategy):
        pass

    assert not hasattr(Base, "name")
