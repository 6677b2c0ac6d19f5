"""The one timer behind every idle result stream's keep-alives and lifetime (wake_wheel.py)."""

from __future__ import annotations

import asyncio
import math

import pytest

from fcfs.entrypoints.http.wake_wheel import WakeWheel, wake_wheel


class _Woken:
    def __init__(self, name: str, log: list[tuple[str, float]]) -> None:
        self.name, self.log = name, log

    def __call__(self) -> None:
        self.log.append((self.name, asyncio.get_running_loop().time()))


async def test_sleepers_wake_in_the_order_of_their_times_and_never_before_them() -> None:
    loop = asyncio.get_running_loop()
    wheel = WakeWheel(0.01)
    log: list[tuple[str, float]] = []
    start = loop.time()
    wanted = {"late": start + 0.06, "early": start + 0.02, "middle": start + 0.04, "past": start - 1.0}
    for name, when in wanted.items():  # an earlier time added after a later one still comes first
        wheel.add(when, _Woken(name, log))

    async with asyncio.timeout(5):
        while len(log) < len(wanted):
            await asyncio.sleep(0.005)

    assert [name for name, _ in log] == ["past", "early", "middle", "late"]
    assert all(at >= wanted[name] for name, at in log)
    assert wheel.sleepers == 0


async def test_a_discarded_sleeper_is_not_woken_and_an_empty_wheel_holds_no_timer() -> None:
    loop = asyncio.get_running_loop()
    wheel = WakeWheel(0.01)
    log: list[tuple[str, float]] = []
    kept, dropped = _Woken("kept", log), _Woken("dropped", log)
    slot = wheel.add(loop.time() + 0.03, dropped)
    wheel.add(loop.time() + 0.03, kept)

    wheel.discard(slot, dropped)
    async with asyncio.timeout(5):
        while not log:
            await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)

    assert [name for name, _ in log] == ["kept"]
    wheel.discard(wheel.add(loop.time() + 60, dropped), dropped)
    assert wheel._timer is None  # nothing asleep: nothing keeps the loop, or the wheel, busy


async def test_sleepers_close_together_share_one_slot() -> None:
    wheel = WakeWheel(1.0)
    base = math.ceil(asyncio.get_running_loop().time()) + 10
    sleepers = [_Woken(str(n), []) for n in range(50)]
    slots = {wheel.add(base + 0.1 + n / 100, sleeper) for n, sleeper in enumerate(sleepers)}

    assert slots == {base + 1}
    assert wheel.sleepers == 50
    for sleeper in sleepers:
        wheel.discard(base + 1, sleeper)
    assert wheel.sleepers == 0


async def test_one_wheel_per_loop_and_resolution() -> None:
    assert wake_wheel(0.5) is wake_wheel(0.5)
    assert wake_wheel(0.5) is not wake_wheel(0.25)


def test_a_wheel_needs_a_positive_resolution() -> None:
    with pytest.raises(ValueError, match="positive"):
        WakeWheel(0.0)
