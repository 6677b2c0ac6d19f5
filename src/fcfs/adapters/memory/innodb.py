"""The memory store with MariaDB's (InnoDB's) timing: row locks held to the end, slow or failing commits.

The plain twin (`store.py`) is enough for the strategies' logic; this one is for the races
whose outcome depends on how InnoDB orders concurrent transactions, so that a strategy that
is only safe by luck of the twin's scheduling is caught in the unit tests:

- an insert waits for another transaction's uncommitted insert of the same (coupon, user),
  then sees it as a duplicate (the unique index);
- any UPDATE of the coupon row (the conditional and the unconditional increment) holds that
  row's lock until the transaction ends;
- a COMMIT can be slow (`commit_turns` event-loop turns: a flush to disk) or fail
  (`failing_commits`: `StorageError`, nothing written).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fcfs.adapters.memory.store import MemoryDatabase, MemoryTransaction, MemoryUnitOfWork
from fcfs.domain.errors import StorageError

if TYPE_CHECKING:
    from fcfs.domain.coupon import Coupon, IssuedCoupon


class InnoDbTransaction(MemoryTransaction):
    """A `MemoryTransaction` that locks the coupon row on every write to it and orders duplicate inserts."""

    def __init__(self, db: MemoryDatabase, uow: InnoDbUnitOfWork) -> None:
        super().__init__(db)
        self._uow = uow
        self.inserted: list[tuple[int, int]] = []

    async def coupon(self, coupon_id: int, *, for_update: bool = False) -> Coupon | None:
        if for_update and self._holds_row(coupon_id):
            return await super().coupon(coupon_id)
        return await super().coupon(coupon_id, for_update=for_update)

    async def reserve_slot(self, coupon_id: int) -> bool:
        await self._lock_coupon_row(coupon_id)
        return await super().reserve_slot(coupon_id)

    async def add_to_issued_quantity(self, coupon_id: int, amount: int) -> None:
        await self._lock_coupon_row(coupon_id)
        await super().add_to_issued_quantity(coupon_id, amount)

    async def add_issued(self, coupon_id: int, user_id: int, event_id: str | None = None) -> IssuedCoupon | None:
        key = (coupon_id, user_id)
        while key not in self.inserted and (other := self._uow.inserting.get(key)) is not None:
            await other.wait()
        row = await super().add_issued(coupon_id, user_id, event_id)
        if row is not None and key not in self.inserted:
            self._uow.inserting[key] = asyncio.Event()
            self.inserted.append(key)
        return row

    async def commit(self) -> None:
        for _ in range(self._uow.commit_turns):
            await asyncio.sleep(0)
        if self._uow.failing_commits > 0:
            self._uow.failing_commits -= 1
            raise StorageError("commit failed (injected by the InnoDB twin)")
        await super().commit()

    def rollback(self) -> None:
        """The transaction's end, committed or not: the inserts waiting on its keys go on."""
        super().rollback()
        for key in self.inserted:
            self._uow.inserting.pop(key).set()
        self.inserted.clear()

    def _holds_row(self, coupon_id: int) -> bool:
        return self._uow.db.row_locks.get(coupon_id) in self.held

    async def _lock_coupon_row(self, coupon_id: int) -> None:
        if not self._holds_row(coupon_id):
            await super().coupon(coupon_id, for_update=True)


class InnoDbUnitOfWork(MemoryUnitOfWork):
    """Transactions over a `MemoryDatabase` as InnoDB would run them; `failing_commits` and `commit_turns` are knobs."""

    def __init__(self, db: MemoryDatabase, *, row_locks: bool = True, commit_turns: int = 0) -> None:
        super().__init__(db, row_locks=row_locks)
        self.db = db
        self.commit_turns = commit_turns
        self.failing_commits = 0
        self.inserting: dict[tuple[int, int], asyncio.Event] = {}

    def _open(self) -> MemoryTransaction:
        return InnoDbTransaction(self.db, self)
