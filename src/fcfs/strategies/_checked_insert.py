"""The check-and-insert of every SQL-coordinated strategy; the coordination around it is the caller's.

In one transaction: read the coupon, refuse a user who already has a row, claim one unit,
insert the row, commit. Strategies differ in how a unit is claimed (count the rows, a
conditional UPDATE, or a counter in front that already reserved it) and in what surrounds
the transaction (nothing, a process lock, a row lock, a Redis lock). Invariants 1 and 2
hold only when that surrounding makes the check and the commit one step for the coupon.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, ClassVar

from fcfs.domain.admission import DATABASE
from fcfs.domain.coupon import require
from fcfs.domain.coupon_state import CouponState
from fcfs.domain.errors import IssuancePaused
from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.strategies._kit import coupon_key
from fcfs.strategies.plugin import Strategy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractAsyncContextManager

    from fcfs.domain.coupon import Coupon
    from fcfs.domain.issuance import IssueCommand
    from fcfs.ports.locks import KeyedLock
    from fcfs.ports.repositories import IssuanceTransaction, UnitOfWork
    from fcfs.ports.strategy import StrategyKit

    Claim = Callable[[IssuanceTransaction, Coupon], Awaitable[bool]]


async def count_then_bump(tx: IssuanceTransaction, coupon: Coupon) -> bool:
    """Counts the rows, then records the unit: correct only while no one else runs it for the coupon.

    The coupon row is updated before the issued row is inserted, so the foreign key's shared
    lock on the coupon row cannot deadlock against another transaction's update.
    """
    if await tx.count_issued(coupon.id) >= coupon.total_quantity:
        return False
    await tx.add_to_issued_quantity(coupon.id, 1)
    return True


async def conditional_increment(tx: IssuanceTransaction, coupon: Coupon) -> bool:
    """One conditional UPDATE: the database itself refuses the unit past the total."""
    return await tx.reserve_slot(coupon.id)


async def record_reserved(tx: IssuanceTransaction, coupon: Coupon) -> bool:
    """The unit was reserved before the transaction (the `atomic` counter); only record it."""
    await tx.add_to_issued_quantity(coupon.id, 1)
    return True


async def check_and_insert(
    tx: IssuanceTransaction, command: IssueCommand, claim: Claim, *, row_lock: bool = False
) -> IssueOutcome:
    """Runs the steps without committing; a refusal leaves writes for the rollback to undo.

    The coupon's state is read with the coupon, inside the transaction: a pause or close
    committed before this transaction read the row is seen here (and `reserve_slot`
    checks it again in its UPDATE), so no attempt that starts after the pause answered
    is admitted, whichever process runs it.
    """
    coupon_id, user_id = command.coupon_id, command.user_id
    coupon = require(await tx.coupon(coupon_id, for_update=row_lock), coupon_id)
    if coupon.state is CouponState.PAUSED:
        raise IssuancePaused(f"issuance of coupon {coupon_id} is paused")
    if coupon.state is CouponState.CLOSED:
        return IssueOutcome(IssueStatus.NOT_OPEN, coupon_id, user_id)
    if await tx.has_issued(coupon_id, user_id):
        return IssueOutcome(IssueStatus.ALREADY_ISSUED, coupon_id, user_id)
    if not await claim(tx, coupon):
        return IssueOutcome(IssueStatus.SOLD_OUT, coupon_id, user_id)
    row = await tx.add_issued(coupon_id, user_id)
    if row is None:  # the unique key held against a concurrent attempt of the same user
        return IssueOutcome(IssueStatus.ALREADY_ISSUED, coupon_id, user_id)
    # a store that numbers rows only at commit reports id 0 here: unknown, not a row id
    return IssueOutcome(IssueStatus.ISSUED, coupon_id, user_id, issued_id=row.id or None)


async def issue_in_transaction(
    uow: UnitOfWork,
    command: IssueCommand,
    claim: Claim = count_then_bump,
    *,
    guard: AbstractAsyncContextManager[None] | None = None,
    row_lock: bool = False,
) -> IssueOutcome:
    """Guard, then transaction, check-and-insert and commit, then release.

    The commit lands before the guard is released, so the next holder counts this row.
    """
    async with guard or nullcontext(), uow.begin() as tx:
        outcome = await check_and_insert(tx, command, claim, row_lock=row_lock)
        if outcome.status is IssueStatus.ISSUED:
            await tx.commit()
    return outcome


async def issue_commit_after_release(
    uow: UnitOfWork, command: IssueCommand, guard: AbstractAsyncContextManager[None] | None
) -> IssueOutcome:
    """The original's `@Transactional` over `@Synchronized`: the lock is gone before the commit.

    While the COMMIT travels (and waits for the log to reach disk) the next holder already
    counts, misses this row and issues one more: over-issuance even in one process. Kept on
    purpose, as the original's lesson.
    """
    async with uow.begin() as tx:
        async with guard or nullcontext():
            outcome = await check_and_insert(tx, command, count_then_bump)
        if outcome.status is IssueStatus.ISSUED:
            await tx.commit()
    return outcome


class CheckedInsertStrategy(Strategy, admission=DATABASE):
    """A SQL-coordinated strategy; a subclass states only what differs from the plain check-and-insert.

    Its admission family is the database's (it decides from the rows), unless a subclass
    declares another, as `atomic` does.

    `lock`: what is held per coupon around the transaction (none by default); `claim`: how a
    unit is claimed (count the rows by default); `row_lock`: whether the coupon row is read
    `FOR UPDATE`.
    """

    row_lock: ClassVar[bool] = False

    def __init__(self, kit: StrategyKit) -> None:
        self._uow = kit.uow
        self._lock = self.lock(kit)

    def lock(self, kit: StrategyKit) -> KeyedLock | None:
        return None

    async def claim(self, tx: IssuanceTransaction, coupon: Coupon) -> bool:
        return await count_then_bump(tx, coupon)

    def guard(self, command: IssueCommand) -> AbstractAsyncContextManager[None] | None:
        return None if self._lock is None else self._lock.hold(coupon_key(command.coupon_id))

    async def issue(self, command: IssueCommand) -> IssueOutcome:
        return await issue_in_transaction(
            self._uow, command, self.claim, guard=self.guard(command), row_lock=self.row_lock
        )
