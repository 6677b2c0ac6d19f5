"""The bulkhead sheds load past its limit instead of queueing, and loses nothing it admitted."""

from __future__ import annotations

import asyncio

import pytest

from fcfs.bootstrap.bulkhead import Bulkhead, GuardedIssueCoupon
from fcfs.domain.errors import SystemBusy
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus


class SlowIssue:
    def __init__(self, release: asyncio.Event) -> None:
        self.release = release
        self.admitted: list[int] = []

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        self.admitted.append(command.user_id)
        await self.release.wait()
        return IssueOutcome(IssueStatus.ISSUED, command.coupon_id, command.user_id)


async def test_calls_past_the_limit_are_rejected_after_the_bounded_wait() -> None:
    release = asyncio.Event()
    inner = SlowIssue(release)
    guarded = GuardedIssueCoupon(inner, Bulkhead("issue", limit=5, wait_seconds=0.05))
    calls = [asyncio.create_task(guarded.execute(IssueCommand(1, user))) for user in range(1, 51)]
    await asyncio.sleep(0.2)
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    busy = [r for r in results if isinstance(r, SystemBusy)]
    done = [r for r in results if isinstance(r, IssueOutcome)]
    assert len(done) == 5 and len(busy) == 45
    assert sorted(o.user_id for o in done) == sorted(inner.admitted)
    assert guarded.bulkhead.state.rejected == 45
    assert guarded.bulkhead.state.in_flight == 0


async def test_a_waiter_gets_in_when_a_place_frees_within_the_wait() -> None:
    bulkhead = Bulkhead("issue", limit=1, wait_seconds=1.0)
    async with bulkhead.enter():
        waiter = asyncio.create_task(asyncio.wait_for(bulkhead.enter().__aenter__(), 2))
        await asyncio.sleep(0.05)
        assert bulkhead.state.waiting == 1
    await waiter
    assert bulkhead.state.rejected == 0


async def test_rejection_is_system_busy_503() -> None:
    bulkhead = Bulkhead("issue", limit=1, wait_seconds=0.01)
    async with bulkhead.enter():
        with pytest.raises(SystemBusy) as caught:
            async with bulkhead.enter():
                pass
    assert caught.value.code.http_status == 503
    assert caught.value.code.code == "S002"


async def test_waiters_get_places_in_arrival_order() -> None:
    bulkhead = Bulkhead("issue", limit=1, wait_seconds=5.0)
    order: list[int] = []

    async def visit(n: int) -> None:
        async with bulkhead.enter():
            order.append(n)
            await asyncio.sleep(0)

    await bulkhead.acquire()
    visitors = []
    for n in range(20):
        visitors.append(asyncio.create_task(visit(n)))
        await asyncio.sleep(0)  # each is queued before the next arrives
    bulkhead.release()
    await asyncio.gather(*visitors)
    assert order == list(range(20))
    assert (bulkhead.state.in_flight, bulkhead.state.waiting) == (0, 0)


async def test_no_place_leaks_when_waiters_are_cancelled_or_time_out() -> None:
    """Thousands of waiters, some cancelled (some just after a place reached them), some timing out:
    afterwards every place is free again, and never more than `limit` were held at once."""
    limit = 8
    bulkhead = Bulkhead("issue", limit=limit, wait_seconds=0.02)
    held = [0, 0]  # now, peak

    async def visit() -> None:
        async with bulkhead.enter():
            held[0] += 1
            held[1] = max(held[1], held[0])
            try:
                await asyncio.sleep(0.001)
            finally:
                held[0] -= 1

    tasks = [asyncio.create_task(visit()) for _ in range(3000)]
    for index, task in enumerate(tasks):
        if index % 7 == 0:
            task.cancel()
        if index % 101 == 0:
            await asyncio.sleep(0)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert held[1] <= limit
    assert any(isinstance(r, SystemBusy) for r in results)
    assert (bulkhead.state.in_flight, bulkhead.state.waiting) == (0, 0)
    # every place is free again: `limit` entries are taken at once with no wait
    for _ in range(limit):
        await asyncio.wait_for(bulkhead.acquire(), 0.001)
    with pytest.raises(SystemBusy):
        await bulkhead.acquire()


async def test_a_waiter_cancelled_just_after_a_place_reached_it_passes_the_place_on() -> None:
    bulkhead = Bulkhead("issue", limit=1, wait_seconds=5.0)
    await bulkhead.acquire()
    waiter = asyncio.create_task(bulkhead.acquire())
    await asyncio.sleep(0)
    assert bulkhead.state.waiting == 1
    bulkhead.release()  # the place goes to the waiter's future ...
    waiter.cancel()  # ... and the waiter is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(bulkhead.acquire(), 0.01)  # the place was not lost
    assert bulkhead.state.in_flight == 1
