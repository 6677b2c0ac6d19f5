"""Per-user and per-address limits on issue attempts (429 R001 with `Retry-After`).

Cost: nothing when no limit is configured (the container then builds no limiter);
otherwise one Redis round trip per attempt, both windows checked in one script call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fcfs.bootstrap.container import Services
from fcfs.domain.errors import RateLimited
from fcfs.entrypoints.http.client_ip import trusted_proxies
from fcfs.ports.rate_limit import RateLimit


async def enforce_rate_limits(
    services: Services, coupon_id: int, user_id: int, peer: str | None, forwarded_for: Sequence[str]
) -> None:
    limiter = services.rate_limiter
    if limiter is None:
        return
    settings = services.settings
    limits: list[RateLimit] = []
    if settings.rate_limit_per_user > 0:
        limits.append(RateLimit(f"u:{user_id}", settings.rate_limit_per_user))
    if settings.rate_limit_per_ip > 0:
        address = trusted_proxies(settings.trusted_proxies).client(peer, forwarded_for)
        limits.append(RateLimit(f"ip:{address}", settings.rate_limit_per_ip))
    wait = await limiter.hit(coupon_id, limits)
    if wait > 0:
        seconds = max(math.ceil(wait), 1)
        raise RateLimited(seconds, f"too many issue attempts; retry in {seconds}s")
