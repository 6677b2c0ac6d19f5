"""`Idempotency-Key` on issue: the same key and request get the first answer, attempted once.

The first request with a key claims it (one atomic step in the store, which keeps the
request's fingerprint with the claim) and attempts; a duplicate that arrives meanwhile
waits, asking the store again with short backoff, until the answer is stored, then
replays it byte for byte. The key sent with a different request (another user, coupon
path or `?strategy=`) is 422 G007, as the IETF idempotency-key draft says, never a second
attempt. Only decisions are stored: what the attempt returned (issued, accepted, sold out,
already issued, not open, not loaded). What it raised is a refusal that decided nothing
(unknown or conflicting strategy, no such coupon, busy, timed out, a store failure): the
claim is released, so the corrected retry with the same key attempts, as the caller wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from fcfs.domain.errors import Code, FcfsError, InvalidInput, WaitTimedOut
from fcfs.entrypoints.http.envelope import Answer
from fcfs.entrypoints.http.errors import domain_answer
from fcfs.ports.idempotency import ANONYMOUS, IdempotencyStore, StoredAnswer

MAX_KEY_LENGTH = 128
KEY_PATTERN = r"^[\x20-\x7e]{1,128}$"
_FIRST_POLL, _MAX_POLL = 0.005, 0.05

log = structlog.get_logger("fcfs.http.idempotency")
Attempt = Callable[[], Awaitable[Answer]]


class IdempotencyKeyReused(FcfsError):
    code = Code.IDEMPOTENCY_KEY_REUSED


def checked_key(raw: str | None) -> str | None:
    """Printable ASCII, 1 … 128 characters; anything else is 400 G002."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in raw):
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return raw


@dataclass(frozen=True, slots=True)
class KeyedIssue:
    """One issue request carrying a key. `authenticated`: the user came from a user token, so the
    key is that user's own; otherwise callers are anonymous and share the coupon's key space."""

    coupon_id: int
    user_id: int
    key: str
    strategy: str | None = None
    authenticated: bool = False

    @property
    def owner(self) -> int:
        return self.user_id if self.authenticated else ANONYMOUS

    @property
    def fingerprint(self) -> str:
        """The request as decoded (method, path, query, user), not its bytes: `{"userId": 1}` and
        `{"userId":1}`, or an empty body beside a token for user 1, are the same request."""
        request = f"POST /api/v1/coupons/{self.coupon_id}/issue?strategy={self.strategy or ''}\n{self.user_id}"
        return hashlib.sha256(request.encode()).hexdigest()[:32]


async def answer_once(store: IdempotencyStore, request: KeyedIssue, attempt: Attempt, wait_seconds: float) -> Answer:
    deadline = time.monotonic() + wait_seconds
    delay = _FIRST_POLL
    scope = (request.coupon_id, request.owner, request.key)
    while True:
        claim = await store.claim(*scope, request.fingerprint)
        if claim.conflict:
            raise IdempotencyKeyReused()
        if claim.answer is not None:
            return _replay(claim.answer)
        if claim.token is not None:
            return await _attempt(store, scope, claim.token, attempt)
        if time.monotonic() >= deadline:
            raise WaitTimedOut("the first request with this Idempotency-Key is still being answered; try again")
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_POLL)


async def _attempt(store: IdempotencyStore, scope: tuple[int, int, str], token: str, attempt: Attempt) -> Answer:
    decided: StoredAnswer | None = None
    try:
        answered = await attempt()
        decided = StoredAnswer(answered.status, answered.body)
    except FcfsError as error:
        answered = domain_answer(error)
    except BaseException:
        with contextlib.suppress(Exception):
            await store.settle(*scope, token, None)
        raise
    try:
        await store.settle(*scope, token, decided)
    except FcfsError as error:
        # The answer stands; a retry after the pending TTL attempts again and is answered from the gate.
        log.warning("idempotency_answer_not_stored", error=error.detail)
    return answered


def _replay(stored: StoredAnswer) -> Answer:
    return Answer(stored.status, stored.body, {"Idempotent-Replayed": "true"})
