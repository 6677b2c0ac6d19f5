"""Remembering the first answer to an `Idempotency-Key`, so a retried request never attempts twice.

A key is scoped to one (coupon, user): the same key sent for another coupon or user is a
different record. The store keeps opaque answers (status and body bytes); what counts as
an answer worth replaying is the caller's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """What `claim` found: exactly one of three cases.

    `token` set: the caller owns the attempt and must `settle` it with that token.
    `answer` set: the first attempt finished; replay it.
    Neither: another caller's attempt is in flight; ask again later.
    """

    token: str | None = None
    answer: StoredAnswer | None = None

    @property
    def in_flight(self) -> bool:
        return self.token is None and self.answer is None


class IdempotencyStore(Protocol):
    async def claim(self, coupon_id: int, user_id: int, key: str) -> Claim:
        """One atomic step: the stored answer, or a pending marker set for this caller, or "in flight".

        A pending marker expires on its own (after the store's pending TTL), so an attempt
        whose process died does not hold the key forever. Raises `GateError` when the store fails.
        """
        ...

    async def settle(self, coupon_id: int, user_id: int, key: str, token: str, answer: StoredAnswer | None) -> None:
        """Store `answer` for the key's TTL, or with None release the claim so a retry may attempt.

        Does nothing when the caller's claim is no longer the current one (it expired and was retaken).
        """
        ...
