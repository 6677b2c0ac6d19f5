"""A short-lived, in-process sold-out flag per coupon (the original's Caffeine flag).

Once an attempt is answered sold out, further attempts on that coupon (with the same
strategy choice) are answered sold out for `ttl` seconds without calling the gate, so
the tail of a flash sale costs no Redis round trip. The flag only ever answers what the
gate just said: it cannot issue anything, so it cannot break invariants 1–3. What it can
do is answer "sold out" for up to `ttl` after a unit came back (a compensation), or to a
user who already holds the coupon (instead of "already issued"). Loading stock, a
top-up, a pause, resume or close, or deleting the coupon in this process clears the flag
at once; other processes wait out their `ttl`. So on another instance a coupon that sold
out in the last `ttl` may answer "sold out" where the gate would say paused (C009) or
closed (C005): the flag admits nobody either, so a pause still holds everywhere the
moment it answered; only the code differs, for at most `ttl`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Concatenate, Generic, ParamSpec, TypeVar

from fcfs.domain.issuance import IssueOutcome, IssueStatus
from fcfs.ports.use_cases import IssuesCoupons

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from fcfs.domain.issuance import IssueCommand

P = ParamSpec("P")
R = TypeVar("R")


class SoldOutFlags:
    def __init__(self, ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._now = now
        self._until: dict[tuple[int, str | None], float] = {}

    def raised(self, coupon_id: int, strategy: str | None) -> bool:
        until = self._until.get((coupon_id, strategy))
        return until is not None and until > self._now()

    def raise_flag(self, coupon_id: int, strategy: str | None) -> None:
        if self._ttl > 0:
            self._until[(coupon_id, strategy)] = self._now() + self._ttl

    def clear(self, coupon_id: int) -> None:
        for name in [name for name in self._until if name[0] == coupon_id]:
            del self._until[name]


class SoldOutShortcut(IssuesCoupons):
    def __init__(self, inner: IssuesCoupons, flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        if self._flags.raised(command.coupon_id, strategy):
            return IssueOutcome(IssueStatus.SOLD_OUT, command.coupon_id, command.user_id)
        outcome = await self._inner.execute(command, strategy)
        if outcome.status is IssueStatus.SOLD_OUT:
            self._flags.raise_flag(command.coupon_id, strategy)
        return outcome


class FlagClearing(Generic[P, R]):
    """Any use case keyed by coupon (load stock, top-up, pause, resume, close, delete) that ends with the flag cleared.

    It clears whether the change succeeded or not: a half-done change must not be hidden
    behind a sold-out answer either.
    """

    def __init__(self, inner: Callable[Concatenate[int, P], Awaitable[R]], flags: SoldOutFlags) -> None:
        self._inner = inner
        self._flags = flags

    async def execute(self, coupon_id: int, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await self._inner(coupon_id, *args, **kwargs)
        finally:
            self._flags.clear(coupon_id)
