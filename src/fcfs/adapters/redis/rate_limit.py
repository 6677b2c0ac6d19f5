"""A fixed-window rate limiter shared by every instance through Redis.

Counters live at `<prefix>:{c:<couponId>}:rl:<subject>`, in the coupon's hash slot, so
one script checks the user's and the address's windows together, in a cluster too.

Cost: one EVALSHA per issue attempt, only when a limit is configured (the container
builds no limiter when every limit is 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.scripting import script
from fcfs.ports.rate_limit import RateLimit, RateLimiter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fcfs.adapters.redis.client import RedisClient

_MAX_SUBJECT = 80


class RedisRateLimiter(RateLimiter):
    def __init__(self, client: RedisClient, prefix: str, window_seconds: float) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._window_ms = max(int(window_seconds * 1000), 1)
        self._script = script("rate_limit")

    async def hit(self, coupon_id: int, limits: Sequence[RateLimit]) -> float:
        if not limits:
            return 0.0
        tag = self._keys.tag(coupon_id)
        keys = [f"{tag}:rl:{_subject(limit)}" for limit in limits]
        with gate_errors(f"rate limit on coupon {coupon_id}"):
            wait_ms = await self._script.run(self._client, keys, (self._window_ms, *(limit.limit for limit in limits)))
        return int(wait_ms) / 1000


def _subject(limit: RateLimit) -> str:
    """Subjects are built from validated ids and canonical addresses; anything else is a bug."""
    subject = limit.subject
    if not subject or len(subject) > _MAX_SUBJECT or any(ch in subject for ch in "{} \t\r\n"):
        raise ValueError(f"invalid rate-limit subject {subject!r}")
    return subject
