"""Counting issue attempts per subject (a user, a client address) in fixed windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` hits per window for `subject` (e.g. `u:42`, `ip:203.0.113.7`) on one coupon."""

    subject: str
    limit: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a rate limit admits at least one hit per window")


class RateLimiter(Protocol):
    async def hit(self, coupon_id: int, limits: Sequence[RateLimit]) -> float:
        """Count one hit against every limit in one atomic step.

        Returns 0.0 when every limit still admits the hit, else the seconds until the
        fullest window ends (a hit that is refused is counted too). Raises `GateError`
        when the shared counter store fails.
        """
        ...
