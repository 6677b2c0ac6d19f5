"""Idempotency keys in Redis, beside the coupon's own keys (same `{c:<couponId>}` hash tag).

`<prefix>:{c:<couponId>}:idem:<owner>:<sha256(key)>` holds either a pending marker
`p:<fingerprint>:<nonce>` (with the pending TTL) or the first answer
`a:<fingerprint>:<status>:<body>` (with the answer TTL). The claim's token is
`<fingerprint>:<nonce>`, so settling needs nothing but the token to keep the fingerprint
with the answer. The key text is hashed, so no client-chosen byte reaches a key name.

Cost: one EVALSHA to claim, one to settle, only for requests that carry the header; a
duplicate that finds the attempt in flight asks again (one EVALSHA per poll).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

from fcfs.adapters.redis.errors import gate_errors
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

    def _key(self, coupon_id: int, owner: int, key: str) -> str:
        assert type(owner) is int, "owners reach key names only as validated ints"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"{self._keys.tag(coupon_id)}:idem:{owner}:{digest}"

    async def claim(self, coupon_id: int, owner: int, key: str, fingerprint: str = "") -> Claim:
        assert ":" not in fingerprint, "the fingerprint is a field of the stored value"
        token = f"{fingerprint}:{uuid.uuid4().hex}"
        with gate_errors(f"claim idempotency key of coupon {coupon_id}"):
            found = await self._claim.run(
                self._client, (self._key(coupon_id, owner, key),), (f"p:{token}", self._pending_ms)
            )
        if found is None:
            return Claim(token=token)
        return _decode(found, fingerprint.encode())

    async def settle(self, coupon_id: int, owner: int, key: str, token: str, answer: StoredAnswer | None) -> None:
        fingerprint = token.partition(":")[0].encode()
        value = b"" if answer is None else b"a:%b:%d:%b" % (fingerprint, answer.status, answer.body)
        with gate_errors(f"settle idempotency key of coupon {coupon_id}"):
            await self._settle.run(
                self._client, (self._key(coupon_id, owner, key),), (f"p:{token}", value, self._answer_ms)
            )


def _decode(raw: bytes | str, fingerprint: bytes) -> Claim:
    data = raw.encode() if isinstance(raw, str) else raw
    kind, _, rest = data.partition(b":")
    held_for, _, rest = rest.partition(b":")
    if kind == b"a" and held_for.isdigit() and rest.startswith(b"{"):  # from before fingerprints: `a:<status>:<body>`
        return Claim(answer=StoredAnswer(int(held_for), rest))
    status, _, body = rest.partition(b":")
    if kind not in (b"p", b"a") or (kind == b"a" and not status.isdigit()):
        raise GateError(f"idempotency record is malformed: {data[:40]!r}")
    if held_for != fingerprint:
        return Claim(conflict=True)
    return Claim() if kind == b"p" else Claim(answer=StoredAnswer(int(status), body))
