"""The capped, idempotent batch insert of docs/design.md §6.5–6.6, inside one open transaction.

Per coupon, in ascending id order (so two batches lock rows in the same order and cannot
deadlock on each other): lock the coupon row, insert the batch's users only while they fit
under `total_quantity`, and add the number actually inserted to `issued_quantity`. The
caller commits once for the whole batch, so rows and count move together or not at all
(invariants 1 and 2).

Every batch of a coupon waits for that coupon's row lock, so the time the lock is held
bounds a hot coupon's drain rate however many consumers there are. A batch that fits in
the room left is therefore one insert while the lock is held: the unique key is its
duplicate check (`ON DUPLICATE KEY UPDATE id = id` never fails on it), and the rowcount
says whether every user was new. Only when it was not (a redelivery) is that insert rolled
back to a savepoint and the batch redone the careful way: read which users already have
rows, let `plan_capped_insert` decide, insert what it says. A batch larger than the room
left goes the careful way from the start, so a duplicate never takes a new user's room.

What does not depend on the locked row is done before the lock is taken (`prepare`): the
batch's first event per user, and the insert of all of them as SQL text. Under the lock
remain only the round trips: the locking read, the insert, the count update (and the
commit, the caller's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from fcfs.adapters.sql.statements import counted_issue_of, issued_rows_of, literal_insert_issued, locked_counts_of
from fcfs.adapters.sql.tables import coupon
from fcfs.domain.batch_cap import CapPlan, first_per_user, plan_capped_insert, room_under_cap

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import CursorResult
    from sqlalchemy.ext.asyncio import AsyncConnection

    from fcfs.adapters.sql.statements import InsertIssued
    from fcfs.domain.events import CouponIssued

CHUNK = 200  # rows per bound-parameter statement: well under every driver's bound-parameter limit
LITERAL_CHUNK = 5_000  # rows per literal statement: ~0.5 MB, far under any max_allowed_packet
SAVEPOINT = "fcfs_batch"
_event_id = attrgetter("event_id")


@dataclass
class BatchOutcome:
    """Event ids by how they ended; each event lands in exactly one list."""

    inserted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    over_cap: list[str] = field(default_factory=list)
    unknown_coupon: list[str] = field(default_factory=list)


def by_coupon(events: Sequence[CouponIssued]) -> dict[int, list[CouponIssued]]:
    groups: dict[int, list[CouponIssued]] = {}
    for issued in events:
        groups.setdefault(issued.coupon_id, []).append(issued)
    return groups


@dataclass(frozen=True, slots=True)
class CouponBatch:
    """One coupon's events of a batch, with what can be worked out before its row is locked."""

    coupon_id: int
    events: list[CouponIssued]
    first_per_user: CapPlan  # the plan were there room for all: its `insert` is each user's first event
    literal: str | None  # `first_per_user.insert` as one SQL statement, where the dialect allows


def prepare(dialect_name: str, coupon_id: int, events: list[CouponIssued]) -> CouponBatch:
    plan = plan_capped_insert(events, frozenset(), len(events))
    fresh = plan.insert
    literal = literal_insert_issued(dialect_name, coupon_id, fresh) if len(fresh) <= LITERAL_CHUNK else None
    return CouponBatch(coupon_id, events, plan, literal)


async def persist_coupon_events(
    conn: AsyncConnection, insert_issued: InsertIssued, batch: CouponBatch, out: BatchOutcome
) -> None:
    coupon_id = batch.coupon_id
    dialect = conn.dialect.name
    counts = await _locked_counts(conn, coupon_id)
    if counts is None:
        out.unknown_coupon.extend(map(_event_id, batch.events))
        return
    room = room_under_cap(*counts)
    added = await _all_new(conn, insert_issued, batch, room, out)
    if added is None:
        added = await _capped(conn, insert_issued, coupon_id, batch.events, room, out)
    if not added:
        return
    if (count := counted_issue_of(dialect, coupon_id, added)) is not None:
        await conn.exec_driver_sql(count)
    else:
        bump = coupon.c.issued_quantity + added
        await conn.execute(update(coupon).where(coupon.c.id == coupon_id).values(issued_quantity=bump))


async def _locked_counts(conn: AsyncConnection, coupon_id: int) -> tuple[int, int] | None:
    """(total, issued) of the coupon, its row locked until the transaction ends; None when there is no such coupon."""
    if (lock := locked_counts_of(conn.dialect.name, coupon_id)) is not None:
        text_row = (await conn.exec_driver_sql(lock)).first()
        return None if text_row is None else (text_row.total_quantity, text_row.issued_quantity)
    locked = select(coupon.c.issued_quantity, coupon.c.total_quantity).where(coupon.c.id == coupon_id)
    row = (await conn.execute(locked.with_for_update())).first()
    return None if row is None else (row.total_quantity, row.issued_quantity)


async def _all_new(
    conn: AsyncConnection, insert_issued: InsertIssued, batch: CouponBatch, room: int, out: BatchOutcome
) -> int | None:
    """Rows added when every user of the batch fits and was new; None (nothing written) otherwise."""
    plan = batch.first_per_user
    if len(plan.insert) > room or not plan.insert:
        return None
    await conn.exec_driver_sql(f"SAVEPOINT {SAVEPOINT}")
    if batch.literal is not None:
        written = (await conn.exec_driver_sql(batch.literal)).rowcount
    else:
        written = await _insert_rows(conn, insert_issued, batch.coupon_id, plan.insert)
    if written != len(plan.insert):
        await conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        return None
    out.inserted.extend(map(_event_id, plan.insert))
    out.duplicates.extend(plan.duplicates)
    return len(plan.insert)


async def _capped(
    conn: AsyncConnection,
    insert_issued: InsertIssued,
    coupon_id: int,
    events: list[CouponIssued],
    room: int,
    out: BatchOutcome,
) -> int:
    """Rows added, deciding from the users that have rows now (exact: other batches wait for our lock).

    A writer that does not take the coupon lock may still add one of our users between the
    read and the insert; the room such a user did not take is offered to the next ones.
    """
    with_rows = set((await _owners(conn, coupon_id, events)).keys())
    pending = events
    added = 0
    while True:
        plan = plan_capped_insert(pending, with_rows, room)
        out.duplicates.extend(plan.duplicates)
        won = await _insert(conn, insert_issued, coupon_id, list(plan.insert)) if plan.insert else set()
        out.inserted.extend(issued.event_id for issued in plan.insert if issued.user_id in won)
        out.duplicates.extend(issued.event_id for issued in plan.insert if issued.user_id not in won)
        added += len(won)
        room -= len(won)
        if len(won) == len(plan.insert) or not plan.over_cap:
            out.over_cap.extend(plan.over_cap)
            return added
        with_rows.update(issued.user_id for issued in plan.insert)
        left = set(plan.over_cap)
        pending = first_per_user((e for e in pending if e.event_id in left), key=lambda issued: issued.user_id)


async def _insert(
    conn: AsyncConnection, insert_issued: InsertIssued, coupon_id: int, events: list[CouponIssued]
) -> set[int]:
    """Insert; return the users that got a row now (not those the unique key refused)."""
    if await _insert_rows(conn, insert_issued, coupon_id, events) == len(events):
        return {issued.user_id for issued in events}
    # A writer that does not take the coupon lock got some of these users first: the rows
    # carrying our event ids are the ones this statement wrote.
    owners = await _owners(conn, coupon_id, events)
    return {issued.user_id for issued in events if owners.get(issued.user_id) == issued.event_id}


async def _owners(conn: AsyncConnection, coupon_id: int, events: Sequence[CouponIssued]) -> dict[int, str | None]:
    """The event id on each row the events' users have for this coupon (users without a row are absent)."""
    if not events:
        return {}
    rows: CursorResult[int, str | None] = await conn.exec_driver_sql(
        issued_rows_of(coupon_id, {issued.user_id for issued in events})
    )
    return {user_id: event_id for user_id, event_id in rows}


async def _insert_rows(
    conn: AsyncConnection, insert_issued: InsertIssued, coupon_id: int, events: Sequence[CouponIssued]
) -> int:
    """How many rows the idempotent insert wrote; users the unique key already held count 0."""
    inserted = 0
    dialect = conn.dialect.name
    for start in range(0, len(events), LITERAL_CHUNK):
        chunk = events[start : start + LITERAL_CHUNK]
        literal = literal_insert_issued(dialect, coupon_id, chunk)
        if literal is not None:
            inserted += (await conn.exec_driver_sql(literal)).rowcount
            continue
        for part in range(0, len(chunk), CHUNK):
            rows = [
                {"coupon_id": coupon_id, "user_id": e.user_id, "event_id": e.event_id, "issued_at": e.issued_at}
                for e in chunk[part : part + CHUNK]
            ]
            inserted += (await conn.execute(insert_issued(rows))).rowcount
    return inserted
