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
    guarded = GuardedIssueCoupon(inner, Bulkhead("issue", limit=5, wait_seconds=0.05))  # type: ignore[arg-type]
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
