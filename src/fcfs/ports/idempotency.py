"""Remembering the first answer to an `Idempotency-Key`, so a retried request never attempts twice.

A key is scoped to one (coupon, owner): the same key sent for another coupon or owner is a
different record. The owner is the user the caller authenticated as, or `ANONYMOUS` when
callers do not authenticate (then every caller shares the coupon's key space, and the
fingerprint, which names the user, tells their requests apart). The record keeps the
fingerprint of the request that claimed it, so the key reused for another request is
refused rather than attempted (IETF idempotency-key draft: 422). The store keeps opaque
answers (status and body bytes); what counts as an answer worth replaying is the caller's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ANONYMOUS = 0  # the owner when callers do not authenticate; user ids start at 1


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """What `claim` found: exactly one of four cases.

    `token` set: the caller owns the attempt and must `settle` it with that token.
    `answer` set: the first attempt finished; replay it.
    `conflict`: the key is held (in flight or answered) for a request with another fingerprint.
    None of them: another caller's attempt is in flight; ask again later.
    """

    token: str | None = None
    answer: StoredAnswer | None = None
    conflict: bool = False

    @property
    def in_flight(self) -> bool:
        return self.token is None and self.answer is None and not self.conflict


class IdempotencyStore(Protocol):
    async def claim(self, coupon_id: int, owner: int, key: str, fingerprint: str = "") -> Claim:
        """One atomic step: the stored answer, or a pending marker set for this caller, or "in flight",
        or a conflict when the key is held for another `fingerprint` (printable, without `:`).

        A pending marker expires on its own (after the store's pending TTL), so an attempt
        whose process died does not hold the key forever. Raises `GateError` when the store fails.
        """
        ...

    async def settle(self, coupon_id: int, owner: int, key: str, token: str, answer: StoredAnswer | None) -> None:
        """Store `answer` for the key's TTL, or with None release the claim so a retry may attempt.

        Does nothing when the caller's claim is no longer the current one (it expired and was retaken).
        """
        ...
