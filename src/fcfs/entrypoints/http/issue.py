"""The issue endpoint's whole behaviour, from the request's raw parts to the envelope.

Both ways in call it: the fast route (`issue_route.py`, straight from ASGI messages) and
the Litestar handler (`coupons.py`, which the OpenAPI schema documents and which serves
the rare request with a query string). One function, so the two cannot drift apart.
Checks run cheapest first: input, admin for `?strategy=`, user token, rate limits, then
one attempt (or its stored answer, with an `Idempotency-Key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fcfs.domain.issuance import IssueCommand, IssueOutcome
from fcfs.entrypoints.http.dto import IssueBody, decode, parse_id
from fcfs.entrypoints.http.envelope import Answer, answer
from fcfs.entrypoints.http.idempotency import KeyedIssue, answer_once, checked_key
from fcfs.entrypoints.http.rate_limits import enforce_rate_limits
from fcfs.entrypoints.http.user_token import issue_caller, issuing_user

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.bootstrap.container import Services


@dataclass(frozen=True, slots=True)
class IssueRequest:
    coupon: str  # the raw path segment
    body: bytes
    authorization: str = ""
    idempotency_key: str | None = None
    peer: str | None = None
    forwarded_for: tuple[str, ...] = ()
    strategy: str | None = None
    admin_token: str = ""  # `X-Fcfs-Admin-Token`, read only with ?strategy=

    @classmethod
    def from_scope(cls, scope: Any, coupon: str, body: bytes, strategy: str | None = None) -> IssueRequest:
        """One pass over the raw headers; the first `Authorization` / `Idempotency-Key` / admin token counts."""
        authorization: str | None = None
        key: str | None = None
        admin: str | None = None
        forwarded: list[str] = []
        headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
        for name, value in headers:
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                if key is None:
                    key = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
            elif name == b"x-fcfs-admin-token" and admin is None:
                admin = value.decode("latin-1")
        client = scope.get("client")
        peer = str(client[0]) if client else None
        return cls(coupon, body, authorization or "", key, peer, tuple(forwarded), strategy, admin or "")


def outcome_json(outcome: IssueOutcome) -> dict[str, object]:
    return {
        "couponId": outcome.coupon_id,
        "userId": outcome.user_id,
        "status": outcome.status.value,
        "issuedId": outcome.issued_id,
        "eventId": outcome.event_id,
    }


async def answer_issue(services: Services, request: IssueRequest) -> Answer:
    """The envelope for one issue request; a refusal raises the `FcfsError` that names it."""
    coupon = parse_id(request.coupon, "couponId")
    settings = services.settings
    key = checked_key(request.idempotency_key)
    subject = issue_caller(settings, request.authorization, request.admin_token, request.strategy)
    body = decode(request.body, IssueBody, empty_ok=subject is not None)
    user = issuing_user(subject, body.user_id)
    if services.rate_limiter is not None:  # no coroutine per request when no limit is configured
        await enforce_rate_limits(services, coupon, user, request.peer, request.forwarded_for)

    async def attempt() -> Answer:
        outcome = await services.issue_coupon.execute(IssueCommand(coupon, user), request.strategy)
        return answer(outcome.status.code, outcome_json(outcome))

    if key is None:
        return await attempt()
    keyed = KeyedIssue(coupon, user, key, request.strategy, authenticated=subject is not None)
    return await answer_once(services.idempotency, keyed, attempt, settings.idempotency_wait_seconds)
