"""Small things every strategy needs from its kit: the lock key and the ports it cannot run without."""

from __future__ import annotations

from typing import TypeVar

from fcfs.domain.errors import StrategyUnavailable

T = TypeVar("T")


def coupon_key(coupon_id: int) -> str:
    """One lock per coupon: attempts on different coupons never wait for each other."""
    return f"coupon:{coupon_id}"


def required(port: T | None, what: str, strategy: str) -> T:
    """The port, or `StrategyUnavailable` when the configured backends left it out of the kit."""
    if port is None:
        raise StrategyUnavailable(f"strategy {strategy!r} needs {what}, which the configured backends do not provide")
    return port
