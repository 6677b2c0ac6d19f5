"""One timer for every idle result stream of a worker: keep-alives and lifetimes without a timer per stream.

An idle stream sleeps on one future of its own until its result, its client leaving, its
next keep-alive or the end of its lifetime. The last two are times; rather than a loop timer
(and the `asyncio.wait` around it) per stream and per keep-alive, each stream puts its
wake-up in a slot of this wheel: times are rounded up to the wheel's resolution, so
thousands of streams share a few dozen slots, and the loop holds one timer, for the
earliest slot. A wake-up is never early; it is at most one resolution late.

One wheel per event loop and resolution (`wake_wheel`); it holds no timer, and so no
reference to its loop, while no stream sleeps on it.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import weakref
from collections.abc import Callable

Wake = Callable[[], object]

_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, WakeWheel]] = weakref.WeakKeyDictionary()


def wake_wheel(resolution: float) -> WakeWheel:
    """The running loop's wheel of that resolution, made on first use."""
    by_resolution = _WHEELS.setdefault(asyncio.get_running_loop(), {})
    wheel = by_resolution.get(resolution)
    if wheel is None:
        wheel = by_resolution[resolution] = WakeWheel(resolution)
    return wheel


class WakeWheel:
    """Wake-ups by slot (`slot × resolution` seconds of loop time); `sleepers` is what tests read."""

    __slots__ = ("_due", "_resolution", "_slots", "_timer", "_timer_slot")

    def __init__(self, resolution: float) -> None:
        if resolution <= 0:
            raise ValueError("a wheel's resolution is a positive number of seconds")
        self._resolution = resolution
        self._slots: dict[int, set[Wake]] = {}
        self._due: list[int] = []  # a heap of the slots in `_slots`, stale entries skipped lazily
        self._timer: asyncio.TimerHandle | None = None
        self._timer_slot = 0

    @property
    def sleepers(self) -> int:
        return sum(len(wakes) for wakes in self._slots.values())

    def add(self, when: float, wake: Wake) -> int:
        """`wake()` at loop time `when` (rounded up to the resolution); the slot is the key for `discard`."""
        slot = math.ceil(when / self._resolution)
        wakes = self._slots.get(slot)
        if wakes is None:
            wakes = self._slots[slot] = set()
            heapq.heappush(self._due, slot)
            if self._timer is None or slot < self._timer_slot:
                self._arm(slot)
        wakes.add(wake)
        return slot

    def discard(self, slot: int, wake: Wake) -> None:
        """The wake-up no longer wanted (its stream woke for another reason, or ended); a no-op once it ran."""
        wakes = self._slots.get(slot)
        if wakes is None:
            return
        wakes.discard(wake)
        if not wakes:
            del self._slots[slot]
            if not self._slots:
                self._disarm()

    def _arm(self, slot: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_slot = slot
        self._timer = asyncio.get_running_loop().call_at(slot * self._resolution, self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()

    def _fire(self) -> None:
        self._timer = None
        # a loop may run a timer a little before its time: the slot it was set for is due regardless
        last = max(self._timer_slot, math.floor(asyncio.get_running_loop().time() / self._resolution))
        while self._due and self._due[0] <= last:
            for wake in self._slots.pop(heapq.heappop(self._due), ()):
                wake()
        while self._due and self._due[0] not in self._slots:
            heapq.heappop(self._due)
        if self._due:
            self._arm(self._due[0])
