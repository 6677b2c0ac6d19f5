"""The live view's counters (docs/design.md, the live view): answers counted on the hot path, read once a second.

Two roles, as for the gate: the issue path only counts (`AnswerTally`, synchronous and
never failing: a counter must not cost an attempt its answer or its latency); the live
view reads the gate's figures and one second's answers together (`LiveCounters`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fcfs.domain.live_view import GateCounts


class AnswerTally(Protocol):
    def count(self, coupon_id: int, code: str) -> None:
        """One issue attempt on `coupon_id` answered `code`, in the current second; returns at once."""
        ...


class LiveCounters(Protocol):
    async def read(self, coupon_id: int, second: int) -> GateCounts:
        """The gate's stock and admitted users now, and the answers counted during `second` (Unix time).

        Raises `TemporaryFailure` when the store cannot answer.
        """
        ...
