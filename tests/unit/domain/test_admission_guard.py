"""The admission guard asks the ledger once per coupon per process, whatever the traffic (review V1).

The ledger here is the memory twin behind a counter of the claims that reach it: each one
is a database write (an UPDATE on the coupon row) on the real ledger, so the count is the
observable cost the issue path must not pay per request.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from fcfs.adapters.memory.admission import MemoryAdmissionLedger
from fcfs.adapters.memory.store import MemoryCouponRepository, MemoryDatabase
from fcfs.domain.admission import GATE
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.errors import CouponNotFound, StrategyConflict
from fcfs.domain.use_cases import AdmissionGuard
from fcfs.ports.admission import AdmissionLedger

LUA_ASYNC = SimpleNamespace(name="lua-async", admission=GATE)
LUA = SimpleNamespace(name="lua", admission=GATE)
ATOMIC = SimpleNamespace(name="atomic")


class CountedLedger(AdmissionLedger):
    """The memory ledger, one event-loop turn slower (a database round trip), counting its claims."""

    def __init__(self, inner: MemoryAdmissionLedger) -> None:
        self._inner = inner
        self.claims = 0

    async def claim(self, coupon_id: int, family: str) -> str | None:
        self.claims += 1
        await asyncio.sleep(0)
        return await self._inner.claim(coupon_id, family)

    async def family(self, coupon_id: int) -> str | None:
        return await self._inner.family(coupon_id)


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def ledger(db: MemoryDatabase) -> CountedLedger:
    return CountedLedger(MemoryAdmissionLedger(db))


async def test_a_cold_burst_on_a_coupon_claims_its_family_once(db: MemoryDatabase, ledger: CountedLedger) -> None:
    coupon = await MemoryCouponRepository(db).add(NewCoupon("launch", 10))
    guard = AdmissionGuard(ledger)

    await asyncio.gather(*(guard.check(coupon.id, LUA_ASYNC) for _ in range(200)))  # type: ignore[arg-type]

    assert ledger.claims == 1


async def test_a_refused_family_is_refused_from_memory(db: MemoryDatabase, ledger: CountedLedger) -> None:
    coupon = await MemoryCouponRepository(db).add(NewCoupon("launch", 10))
    guard = AdmissionGuard(ledger)
    await guard.check(coupon.id, LUA_ASYNC)  # type: ignore[arg-type]

    for _ in range(50):
        with pytest.raises(StrategyConflict):
            await guard.check(coupon.id, ATOMIC)  # type: ignore[arg-type]

    assert ledger.claims == 1


async def test_a_coupon_deleted_after_its_window_was_cached_costs_one_claim(
    db: MemoryDatabase, ledger: CountedLedger
) -> None:
    coupons = MemoryCouponRepository(db)
    coupon = await coupons.add(NewCoupon("launch", 10))
    await coupons.delete(coupon.id)  # on another instance, after this one cached the window
    guard = AdmissionGuard(ledger)

    for _ in range(50):
        with pytest.raises(CouponNotFound):
            await guard.check(coupon.id, LUA_ASYNC)  # type: ignore[arg-type]

    assert ledger.claims == 1


async def test_a_strategy_is_settled_from_memory_only_once_it_passed_the_check(
    db: MemoryDatabase, ledger: CountedLedger
) -> None:
    """`settled` is the issue path's shortcut around `check`: it never says yes where `check` would refuse."""
    coupons = MemoryCouponRepository(db)
    coupon, other = await coupons.add(NewCoupon("launch", 10)), await coupons.add(NewCoupon("other", 10))
    guard = AdmissionGuard(ledger)
    assert not guard.settled(coupon.id, LUA_ASYNC)  # type: ignore[arg-type]  # not asked yet

    await guard.check(coupon.id, LUA_ASYNC)  # type: ignore[arg-type]
    assert guard.settled(coupon.id, LUA_ASYNC)  # type: ignore[arg-type]
    assert not guard.settled(other.id, LUA_ASYNC)  # type: ignore[arg-type]  # per coupon
    with pytest.raises(StrategyConflict):
        await guard.check(coupon.id, ATOMIC)  # type: ignore[arg-type]
    assert not guard.settled(coupon.id, ATOMIC)  # type: ignore[arg-type]
    await guard.check(coupon.id, LUA)  # type: ignore[arg-type]
    assert guard.settled(coupon.id, LUA)  # type: ignore[arg-type]
    assert ledger.claims == 1
