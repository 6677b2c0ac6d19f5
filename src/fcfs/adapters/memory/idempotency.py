"""The idempotency store's in-process twin: same claim/settle semantics, atomic because it never awaits."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.ports.idempotency import Claim, IdempotencyStore, StoredAnswer

if TYPE_CHECKING:
    from collections.abc import Callable

_SWEEP_ABOVE = 10_000


@dataclass(slots=True)
class _Record:
    expires_at: float
    fingerprint: str
    token: str | None = None
    answer: StoredAnswer | None = None


class MemoryIdempotencyStore(IdempotencyStore):
    """Per process only: right for one worker or tests; several workers need the Redis store."""

    def __init__(self, *, answer_ttl: float, pending_ttl: float, now: Callable[[], float] = time.monotonic) -> None:
        self._records: dict[tuple[int, int, str], _Record] = {}
        self._answer_ttl = answer_ttl
        self._pending_ttl = pending_ttl
        self._now = now

    async def claim(self, coupon_id: int, owner: int, key: str, fingerprint: str = "") -> Claim:
        now = self._now()
        if len(self._records) > _SWEEP_ABOVE:
            self._expire(now)
        record = self._records.get((coupon_id, owner, key))
        if record is not None and record.expires_at > now:
            if record.fingerprint != fingerprint:
                return Claim(conflict=True)
            return Claim(answer=record.answer)
        token = uuid.uuid4().hex
        self._records[(coupon_id, owner, key)] = _Record(now + self._pending_ttl, fingerprint, token=token)
        return Claim(token=token)

    async def settle(self, coupon_id: int, owner: int, key: str, token: str, answer: StoredAnswer | None) -> None:
        record = self._records.get((coupon_id, owner, key))
        if record is None or record.token != token or record.expires_at <= self._now():
            return
        if answer is None:
            del self._records[(coupon_id, owner, key)]
        else:
            expires_at = self._now() + self._answer_ttl
            self._records[(coupon_id, owner, key)] = _Record(expires_at, record.fingerprint, answer=answer)

    def _expire(self, now: float) -> None:
        for name in [name for name, record in self._records.items() if record.expires_at <= now]:
            del self._records[name]
