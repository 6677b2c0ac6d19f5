"""`Idempotency-Key` on issue: the same key (per coupon and user) gets the first answer, attempted once.

The first request with a key claims it (one atomic step in the store) and attempts; a
duplicate that arrives meanwhile waits, asking the store again with short backoff, until
the answer is stored, then replays it byte for byte. Only decided answers are stored
(success and the 4xx refusals); when nothing was decided (5xx, 408, 429: nothing was
issued, or the outcome is unknown and reconciliation settles it) the claim is released,
so a retry with the same key attempts again, which is what the caller wants then.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from fcfs.domain.errors import FcfsError, InvalidInput, WaitTimedOut
from fcfs.entrypoints.http.envelope import Answer
from fcfs.entrypoints.http.errors import domain_answer
from fcfs.ports.idempotency import IdempotencyStore, StoredAnswer

MAX_KEY_LENGTH = 128
KEY_PATTERN = r"^[\x20-\x7e]{1,128}$"
_NOT_DECIDED = {408, 429}
_FIRST_POLL, _MAX_POLL = 0.005, 0.05

log = structlog.get_logger("fcfs.http.idempotency")
Attempt = Callable[[], Awaitable[Answer]]


def checked_key(raw: str | None) -> str | None:
    """Printable ASCII, 1 … 128 characters; anything else is 400 G002."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in raw):
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return raw


async def answer_once(
    store: IdempotencyStore, coupon_id: int, user_id: int, key: str, attempt: Attempt, wait_seconds: float
) -> Answer:
    deadline = time.monotonic() + wait_seconds
    delay = _FIRST_POLL
    while True:
        claim = await store.claim(coupon_id, user_id, key)
        if claim.answer is not None:
            return _replay(claim.answer)
        if claim.token is not None:
            return await _attempt(store, (coupon_id, user_id, key), claim.token, attempt)
        if time.monotonic() >= deadline:
            raise WaitTimedOut("the first request with this Idempotency-Key is still being answered; try again")
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_POLL)


async def _attempt(store: IdempotencyStore, scope: tuple[int, int, str], token: str, attempt: Attempt) -> Answer:
    try:
        answered = await attempt()
    except FcfsError as error:
        answered = domain_answer(error)
    except BaseException:
        with contextlib.suppress(Exception):
            await store.settle(*scope, token, None)
        raise
    decided = answered.status < 500 and answered.status not in _NOT_DECIDED
    try:
        await store.settle(*scope, token, StoredAnswer(answered.status, answered.body) if decided else None)
    except FcfsError as error:
        # The answer stands; a retry after the pending TTL attempts again and is answered from the gate.
        log.warning("idempotency_answer_not_stored", error=error.detail)
    return answered


def _replay(stored: StoredAnswer) -> Answer:
    return Answer(stored.status, stored.body, {"Idempotent-Replayed": "true"})
