"""The oracle of the reliability suite: what clients were told against what the stores hold (docs/design.md §1).

After a test drove load, broke things and drained the pipeline, it hands the oracle the
users told "issued" (`Claims.acked`), the users whose outcome nobody can know (their request
got no answer: `unknown`), the users reconciliation republished after a crash or a lost
reply (`reconciled`), and, where a test expects it, the acknowledged users the database cap
refused (`over_cap`). `check` reads the rows, the coupon's counter and the Redis gate and
raises `InvariantBroken` naming every invariant broken and the users involved.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from sqlalchemy import text

from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.sql.engine import create_engine
from fcfs.bootstrap.settings import Settings

SHOWN = 20  # users listed per broken invariant


class InvariantBroken(AssertionError):
    """One or more invariants of docs/design.md §1 do not hold; the message lists each, with users."""


@dataclass(frozen=True)
class Stored:
    """What the stores hold for one coupon after the drain."""

    coupon_id: int
    total: int
    issued_quantity: int
    row_users: tuple[int, ...]  # one entry per row: a duplicate row shows as a repeated user
    gate_stock: int | None = None  # None: no gate read, or the stock key is missing
    gate_users: frozenset[int] = frozenset()
    gate_read: bool = False

    @property
    def users(self) -> set[int]:
        return set(self.row_users)


@dataclass
class Claims:
    """What the clients were told, and what the test knows about outcomes nobody was told."""

    acked: set[int]
    unknown: set[int] = field(default_factory=set)
    reconciled: set[int] = field(default_factory=set)
    over_cap: set[int] = field(default_factory=set)


async def read_stored(
    database_url: str, coupon_id: int, *, redis_url: str | None = None, redis_prefix: str | None = None
) -> Stored:
    """Rows, the coupon's counters and (given a Redis URL and prefix) the gate's stock and users."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            counts = (
                await conn.execute(
                    text("SELECT total_quantity, issued_quantity FROM coupon WHERE id = :id"), {"id": coupon_id}
                )
            ).one()
            rows = await conn.execute(
                text("SELECT user_id FROM issued_coupon WHERE coupon_id = :id ORDER BY id"), {"id": coupon_id}
            )
            row_users = tuple(int(row[0]) for row in rows)
    finally:
        await engine.dispose()
    if redis_url is None or redis_prefix is None:
        return Stored(coupon_id, int(counts[0]), int(counts[1]), row_users)
    keys = KeySpace(redis_prefix).coupon(coupon_id)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stock = await client.get(keys.stock)
        members = {int(member) async for member in client.sscan_iter(keys.users, count=1000)}
    finally:
        await client.aclose()
    return Stored(
        coupon_id,
        int(counts[0]),
        int(counts[1]),
        row_users,
        None if stock is None else int(stock),
        frozenset(members),
        gate_read=True,
    )


def broken_invariants(stored: Stored, claims: Claims, *, conservation: bool = True) -> list[str]:
    """Every invariant of docs/design.md §1 that does not hold, as a sentence naming the users involved."""
    broken: list[str] = []
    rows, users = len(stored.row_users), stored.users
    if rows > stored.total:
        broken.append(
            f"invariant 1 (no over-issuance): coupon {stored.coupon_id} has {rows} rows for a total of "
            f"{stored.total}; users of the rows past the total: {_show(stored.row_users[stored.total :])}"
        )
    twice = sorted(user for user, count in Counter(stored.row_users).items() if count > 1)
    if twice:
        broken.append(f"invariant 2 (one per user): users with more than one row: {_show(twice)}")
    lost = claims.acked - users - claims.over_cap
    if lost:
        broken.append(f"invariant 3 (no lost issuance): told issued, no row after the drain: {_show(lost)}")
    refused_yet_stored = claims.over_cap & users
    if refused_yet_stored:
        broken.append(f"over-cap users expected without a row have one: {_show(refused_yet_stored)}")
    ghosts = users - claims.acked - claims.unknown - claims.reconciled
    if ghosts:
        broken.append(
            "invariant 4 (no ghost issuance): rows for users never told issued "
            f"(no answer lost, not reconciled): {_show(ghosts)}"
        )
    if stored.issued_quantity != rows:
        broken.append(
            f"counter: coupon.issued_quantity is {stored.issued_quantity} but {rows} rows exist "
            f"(the cap reads the counter, so they must move together)"
        )
    if conservation:
        broken += _conservation(stored)
    return broken


def _conservation(stored: Stored) -> list[str]:
    if not stored.gate_read:
        return ["invariant 5 (conservation): the gate was not read (pass redis_url and redis_prefix)"]
    if stored.gate_stock is None:
        return [f"invariant 5 (conservation): coupon {stored.coupon_id} has no stock key in the gate"]
    held = len(stored.gate_users)
    if stored.gate_stock + held == stored.total:
        return []
    return [
        f"invariant 5 (conservation): stock {stored.gate_stock} + {held} users in the gate != total "
        f"{stored.total}; gate users without a row: {_show(stored.gate_users - stored.users)}; "
        f"rows whose user the gate does not hold: {_show(stored.users - stored.gate_users)}"
    ]


def check(stored: Stored, claims: Claims, *, conservation: bool = True) -> None:
    """Raise `InvariantBroken` listing every broken invariant; return quietly when all hold."""
    broken = broken_invariants(stored, claims, conservation=conservation)
    if broken:
        summary = (
            f"coupon {stored.coupon_id}: {len(stored.row_users)} rows, total {stored.total}, "
            f"{len(claims.acked)} acked, {len(claims.unknown)} unanswered, {len(claims.reconciled)} reconciled"
        )
        raise InvariantBroken("\n".join([summary, *(f"- {line}" for line in broken)]))


async def assert_invariants(
    database_url: str,
    coupon_id: int,
    claims: Claims,
    *,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    conservation: bool = True,
) -> Stored:
    """Read the stores and `check`; returns what was read, for the test's own further assertions."""
    stored = await read_stored(database_url, coupon_id, redis_url=redis_url, redis_prefix=redis_prefix)
    check(stored, claims, conservation=conservation)
    return stored


async def assert_invariants_of(
    settings: Settings, coupon_id: int, claims: Claims, *, conservation: bool = True
) -> Stored:
    """`assert_invariants` on the stores `settings` names: its database, its Redis and key prefix."""
    return await assert_invariants(
        settings.database_url,
        coupon_id,
        claims,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        conservation=conservation,
    )


def _show(users: object) -> str:
    ordered = sorted(set(users))  # type: ignore[call-overload]
    more = f" … (+{len(ordered) - SHOWN} more)" if len(ordered) > SHOWN else ""
    return f"{ordered[:SHOWN]}{more}" if ordered else "[]"
