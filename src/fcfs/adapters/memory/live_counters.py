"""The live counters' in-process twin: answers per second in a dictionary, the gate's figures from its twin.

Also what a deployment without Redis counts with (SQL strategies only): then the answers
are this process's alone, the one figure of the live view that is not shared.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from fcfs.domain.live_view import GateCounts
from fcfs.ports.live import AnswerTally, LiveCounters

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.ports.gate import GateStock

KEPT_SECONDS = 120


class MemoryLiveCounters(LiveCounters, AnswerTally):
    def __init__(self, gate: GateStock | None = None, clock: Callable[[], float] = time.time) -> None:
        self._gate = gate
        self._clock = clock
        self.answers: dict[tuple[int, int], Counter[str]] = {}

    def count(self, coupon_id: int, code: str) -> None:
        second = int(self._clock())
        tally = self.answers.get((coupon_id, second))
        if tally is None:  # not `setdefault`: that builds a Counter on every call, on the issue path
            tally = self.answers[(coupon_id, second)] = Counter()
        tally[code] += 1
        if len(self.answers) > KEPT_SECONDS * 4:
            for key in [key for key in self.answers if key[1] < second - KEPT_SECONDS]:
                del self.answers[key]

    async def read(self, coupon_id: int, second: int) -> GateCounts:
        answers = dict(self.answers.get((coupon_id, second), {}))
        if self._gate is None:
            return GateCounts(answers=answers)
        remaining = await self._gate.remaining(coupon_id)
        admitted = len(await self._gate.users(coupon_id)) if remaining is not None else 0
        return GateCounts(remaining, admitted, answers)
