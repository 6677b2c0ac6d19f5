"""Idempotency keys in Redis, beside the coupon's own keys (same `{c:<couponId>}` hash tag).

`<prefix>:{c:<couponId>}:idem:<userId>:<sha256(key)>` holds either a pending marker
`p:<token>` (with the pending TTL) or the first answer `a:<status>:<body>` (with the
answer TTL). The key text is hashed, so no client-chosen byte reaches a key name.

Cost: one EVALSHA to claim, one to settle, only for requests that carry the header; a
duplicate that finds the attempt in flight asks again (one EVALSHA per poll).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

from fcfs.adapters.redis.failures import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.scripting import script
from fcfs.domain.errors import GateError
from fcfs.ports.idempotency import Claim, IdempotencyStore, StoredAnswer

if TYPE_CHECKING:
    from fcfs.adapters.redis.client import RedisClient


class RedisIdempotencyStore(IdempotencyStore):
    """Raises `GateError` when Redis fails (the caller then attempts nothing)."""

    def __init__(self, client: RedisClient, prefix: str, *, answer_ttl: float, pending_ttl: float) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._answer_ms = max(int(answer_ttl * 1000), 1)
        self._pending_ms = max(int(pending_ttl * 1000), 1)
        self._claim = script("idempotency_claim")
        self._settle = script("idempotency_settle")

    def _key(self, coupon_id: int, user_id: int, key: str) -> str:
        assert type(user_id) is int, "user ids reach key names only as validated ints"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"{self._keys.tag(coupon_id)}:idem:{user_id}:{digest}"

    async def claim(self, coupon_id: int, user_id: int, key: str) -> Claim:
        token = uuid.uuid4().hex
        with gate_errors(f"claim idempotency key of coupon {coupon_id}"):
            found = await self._claim.run(
                self._client, (self._key(coupon_id, user_id, key),), (f"p:{token}", self._pending_ms)
            )
        if found is None:
            return Claim(token=token)
        return _decode(found)

    async def settle(self, coupon_id: int, user_id: int, key: str, token: str, answer: StoredAnswer | None) -> None:
        value = b"" if answer is None else b"a:%d:%b" % (answer.status, answer.body)
        with gate_errors(f"settle idempotency key of coupon {coupon_id}"):
            await self._settle.run(
                self._client, (self._key(coupon_id, user_id, key),), (f"p:{token}", value, self._answer_ms)
            )


def _decode(raw: bytes | str) -> Claim:
    data = raw.encode() if isinstance(raw, str) else raw
    if data.startswith(b"p:"):
        return Claim()
    kind, _, rest = data.partition(b":")
    status, _, body = rest.partition(b":")
    if kind != b"a" or not status.isdigit():
        raise GateError(f"idempotency record is malformed: {data[:40]!r}")
    return Claim(answer=StoredAnswer(int(status), body))
