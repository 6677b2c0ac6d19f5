"""The capped, idempotent batch insert of DESIGN.md §6.5–6.6, inside one open transaction.

Per coupon, in ascending id order (so two batches lock rows in the same order and cannot
deadlock on each other): lock the coupon row, drop users that already have a row or
appear earlier in the batch, insert the rest only while they fit under `total_quantity`,
and add the number actually inserted to `issued_quantity`. The caller commits once for
the whole batch, so rows and count move together or not at all (invariants 1 and 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from fcfs.adapters.sql.tables import coupon, issued_coupon

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from fcfs.adapters.sql.statements import InsertIssued
    from fcfs.domain.events import CouponIssued

CHUNK = 200  # rows per statement: well under every driver's bound-parameter limit


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


async def persist_coupon_events(
    conn: AsyncConnection, insert_issued: InsertIssued, coupon_id: int, events: list[CouponIssued], out: BatchOutcome
) -> None:
    locked = select(coupon.c.issued_quantity, coupon.c.total_quantity).where(coupon.c.id == coupon_id)
    counts = (await conn.execute(locked.with_for_update())).first()
    if counts is None:
        out.unknown_coupon.extend(issued.event_id for issued in events)
        return
    fresh = await _drop_duplicates(conn, coupon_id, events, out)
    room = max(counts.total_quantity - counts.issued_quantity, 0)
    added = 0
    while room > 0 and fresh:
        attempt, fresh = fresh[:room], fresh[room:]
        won = await _insert(conn, insert_issued, coupon_id, attempt)
        out.inserted.extend(issued.event_id for issued in attempt if issued.user_id in won)
        out.duplicates.extend(issued.event_id for issued in attempt if issued.user_id not in won)
        room -= len(won)
        added += len(won)
    out.over_cap.extend(issued.event_id for issued in fresh)
    if added:
        bump = coupon.c.issued_quantity + added
        await conn.execute(update(coupon).where(coupon.c.id == coupon_id).values(issued_quantity=bump))


async def _drop_duplicates(
    conn: AsyncConnection, coupon_id: int, events: list[CouponIssued], out: BatchOutcome
) -> list[CouponIssued]:
    """Events whose user has no row yet and is not repeated earlier in this batch."""
    seen = await _users_with_rows(conn, coupon_id, [issued.user_id for issued in events])
    fresh: list[CouponIssued] = []
    for issued in events:
        if issued.user_id in seen:
            out.duplicates.append(issued.event_id)
        else:
            seen.add(issued.user_id)
            fresh.append(issued)
    return fresh


async def _users_with_rows(conn: AsyncConnection, coupon_id: int, user_ids: list[int]) -> set[int]:
    found: set[int] = set()
    unique = sorted(set(user_ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        query = select(issued_coupon.c.user_id).where(
            issued_coupon.c.coupon_id == coupon_id, issued_coupon.c.user_id.in_(chunk)
        )
        found.update((await conn.scalars(query)).all())
    return found


async def _insert(
    conn: AsyncConnection, insert_issued: InsertIssued, coupon_id: int, events: list[CouponIssued]
) -> set[int]:
    """Insert; return the users that got a row now (not those the unique key refused)."""
    inserted = 0
    for start in range(0, len(events), CHUNK):
        rows = [
            {"coupon_id": coupon_id, "user_id": e.user_id, "event_id": e.event_id, "issued_at": e.issued_at}
            for e in events[start : start + CHUNK]
        ]
        inserted += (await conn.execute(insert_issued(rows))).rowcount
    if inserted == len(events):
        return {issued.user_id for issued in events}
    # A writer that does not take the coupon lock got some of these users first: the rows
    # carrying our event ids are the ones this statement wrote.
    owners: dict[int, str | None] = {}
    for start in range(0, len(events), CHUNK):
        users = [issued.user_id for issued in events[start : start + CHUNK]]
        query = select(issued_coupon.c.user_id, issued_coupon.c.event_id).where(
            issued_coupon.c.coupon_id == coupon_id, issued_coupon.c.user_id.in_(users)
        )
        owners.update((row.user_id, row.event_id) for row in await conn.execute(query))
    return {issued.user_id for issued in events if owners.get(issued.user_id) == issued.event_id}
