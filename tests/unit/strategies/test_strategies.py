"""Every strategy under a burst of concurrent attempts on the in-memory twins.

The safe strategies keep invariants 1-4 (docs/design.md §1); `no-lock` and `synchronized`
are shown to break invariant 1, which is why they exist.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus
from fcfs.ports.strategy import IssueStrategy
from tests.support.memory_world import MemoryWorld, build
from tests.support.strategy_names import GATED, SQL_SAFE

TOTAL = 100
DISTINCT_USERS = 2_000
REPEATED_USERS = 1_000  # these users ask twice: 3,000 attempts in all
SLOW_COMMIT_TURNS = 10  # a COMMIT as slow as about three reads of the next attempt

SAFE = [*SQL_SAFE, *GATED]
# The atomic counter hands a unit to a repeat before the insert finds the user's row, so
# while a repeat is in flight another user may be told "sold out"; the unit comes back
# when the repeat ends, and later traffic gets it (the original's AtomicInteger did the same).
CLAIM_BEFORE_DUPLICATE_CHECK = {"atomic"}


def burst(seed: int = 2024) -> list[int]:
    users = list(range(1, DISTINCT_USERS + 1)) + list(range(1, REPEATED_USERS + 1))
    random.Random(seed).shuffle(users)
    return users


async def attempt_all(strategy: IssueStrategy, coupon_id: int, users: list[int]) -> list[IssueOutcome]:
    return await asyncio.gather(*(strategy.issue(IssueCommand(coupon_id, user)) for user in users))


async def persisted_users(world: MemoryWorld, coupon_id: int) -> Counter[int]:
    """Users with rows, after the consumer drained whatever the strategy published."""
    drained = await world.drain_published()
    assert not drained.over_cap
    assert not drained.unknown_coupon
    return Counter(row.user_id for row in world.rows(coupon_id))


@pytest.mark.parametrize("commit_turns", [0, SLOW_COMMIT_TURNS], ids=["fast-commit", "slow-commit"])
@pytest.mark.parametrize("name", SAFE)
async def test_safe_strategy_issues_the_total_once_per_user_under_a_burst(name: str, commit_turns: int) -> None:
    world = MemoryWorld(commit_turns=commit_turns)
    coupon = await world.coupon(TOTAL)
    strategy = build(name, world)

    outcomes = await attempt_all(strategy, coupon.id, burst())
    if name in CLAIM_BEFORE_DUPLICATE_CHECK:
        outcomes += await attempt_all(strategy, coupon.id, list(range(DISTINCT_USERS + 1, DISTINCT_USERS + TOTAL + 1)))

    rows = await persisted_users(world, coupon.id)
    granted = Counter(outcome.user_id for outcome in outcomes if outcome.status.granted)
    assert sum(rows.values()) == TOTAL, f"{name}: {sum(rows.values())} rows for a total of {TOTAL}"
    assert max(rows.values()) == 1, f"{name}: some user holds two rows"
    assert granted == rows, f"{name}: granted answers and rows disagree"
    assert world.stored(coupon.id).issued_quantity == TOTAL
    refusals = {outcome.status for outcome in outcomes if not outcome.status.granted}
    assert refusals <= {IssueStatus.SOLD_OUT, IssueStatus.ALREADY_ISSUED}


@pytest.mark.parametrize("name", ["lua", "lua-async"])
async def test_gate_conserves_stock_plus_admitted_users_after_a_burst(name: str) -> None:
    world = MemoryWorld()
    coupon = await world.coupon(TOTAL)

    await attempt_all(build(name, world), coupon.id, burst())

    assert await world.gate.remaining(coupon.id) == 0
    assert len(await world.gate.users(coupon.id)) == TOTAL


async def test_no_lock_over_issues_under_contention() -> None:
    world = MemoryWorld()
    coupon = await world.coupon(TOTAL)

    await attempt_all(build("no-lock", world), coupon.id, burst())

    rows = len(world.rows(coupon.id))
    assert rows > TOTAL, f"no-lock issued {rows} for a total of {TOTAL}: expected the race to over-issue"


async def test_synchronized_over_issues_when_the_commit_lands_after_the_lock_is_released() -> None:
    world = MemoryWorld(commit_turns=SLOW_COMMIT_TURNS)
    coupon = await world.coupon(TOTAL)

    await attempt_all(build("synchronized", world), coupon.id, burst())

    rows = len(world.rows(coupon.id))
    assert rows > TOTAL, f"synchronized issued {rows} for a total of {TOTAL} (excess {rows - TOTAL})"
