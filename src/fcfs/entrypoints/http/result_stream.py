"""`GET /api/v1/coupons/{id}/issued/{userId}/stream`: a user's result pushed once durable (docs/design.md §10).

Server-Sent Events: the current state at once (`pending`, `issued`, `failed` or `none`);
while pending, then `issued` once the consumer's transaction holding the row committed or
`failed` with the dead-letter reason, and the stream ends. A terminal first state ends it
at once, so `none` is a clear end. No gap: the state is read, the listener registered
(Redis confirmed the channel), and the state read again before waiting. Keep-alive comment
lines hold idle streams open through proxies; after `result_stream_lifetime_seconds` the
stream ends with the state read then (a client still hearing `pending` reconnects).

Everything refused (a bad id, a foreign user's token, a coupon that does not exist) is the
usual JSON envelope, decided before the first byte of the stream.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from litestar import Controller, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from fcfs.domain.events import DeadLetterReason
from fcfs.domain.issuance import UserIssueState
from fcfs.domain.results import UserResult
from fcfs.entrypoints.http.auth import AnyRequest
from fcfs.entrypoints.http.coupons import CouponIdParam, UserIdParam
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import parse_id
from fcfs.entrypoints.http.openapi import USER_OR_ADMIN, event_stream_operation
from fcfs.entrypoints.http.user_token import require_reader

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fcfs.domain.use_cases import ReadUserIssue
    from fcfs.ports.notifications import IssueResults

KEEP_ALIVE = ServerSentEventMessage(data=None, comment="keep-alive")
_encoder = msgspec.json.Encoder()


def _result_of(state: UserIssueState) -> UserResult:
    """A state read from the stores; `failed` read there means the database cap is reached."""
    reason = DeadLetterReason.OVER_CAP.value if state is UserIssueState.FAILED else None
    return UserResult(state, reason)


def event(coupon_id: int, user_id: int, result: UserResult) -> ServerSentEventMessage:
    data: dict[str, object] = {"couponId": coupon_id, "userId": user_id, "state": result.state.value}
    if result.reason is not None:
        data["reason"] = result.reason
    if result.committed_at is not None:
        data["committedAt"] = result.committed_at
    return ServerSentEventMessage(data=_encoder.encode(data).decode(), event=result.state.value)


@dataclass(frozen=True, slots=True)
class ResultStream:
    """One listener's events; the generator's `finally` (the `async with`) releases its subscription.

    Keep-alives come at a jittered interval (half to all of `keepalive`): thousands of streams
    opened in the same second must not all write in the same loop turn every interval.
    """

    read: ReadUserIssue
    results: IssueResults | None
    lifetime: float
    keepalive: float

    async def events(
        self, coupon_id: int, user_id: int, first: UserIssueState
    ) -> AsyncIterator[ServerSentEventMessage]:
        yield event(coupon_id, user_id, _result_of(first))
        if first is not UserIssueState.PENDING or self.results is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        async with self.results.subscribe(coupon_id, user_id) as waiter:
            now = await self.read.execute(coupon_id, user_id)
            if now is not UserIssueState.PENDING:
                yield event(coupon_id, user_id, _result_of(now))
                return
            while (left := deadline - loop.time()) > 0:
                jittered = self.keepalive * random.uniform(0.5, 1.0)  # noqa: S311  (timing, not security)
                result = await waiter.wait(min(jittered, left))
                if result is not None:
                    yield event(coupon_id, user_id, result)
                    return
                if deadline - loop.time() > 0:
                    yield KEEP_ALIVE
        yield event(coupon_id, user_id, _result_of(await self.read.execute(coupon_id, user_id)))


STREAM_OPERATION = event_stream_operation(
    "Server-Sent Events: `pending` | `issued` | `failed` | `none`, each with JSON data "
    "`{couponId, userId, state, reason?, committedAt?}`; the stream ends after a terminal state",
    (400, 401, 403, 404, 500),
)


class ResultStreamController(Controller):
    path = "/api/v1/coupons"
    tags = ["coupons"]  # noqa: RUF012

    @get(
        "/{coupon_id:str}/issued/{user_id:str}/stream",
        operation_class=STREAM_OPERATION,
        security=USER_OR_ADMIN,
    )
    async def stream(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam, user_id: str = UserIdParam
    ) -> ServerSentEvent:
        """With user tokens on, only that user (the token's subject) or the admin may listen."""
        coupon, user = parse_id(coupon_id, "couponId"), parse_id(user_id, "userId")
        require_reader(services.settings, request.headers.get("authorization", ""), user)
        first = await services.read_user_issue.execute(coupon, user)  # 404 C001 here, as an envelope
        settings = services.settings
        stream = ResultStream(
            services.read_user_issue,
            services.issue_results,
            settings.result_stream_lifetime_seconds,
            settings.result_stream_keepalive_seconds,
        )
        return ServerSentEvent(stream.events(coupon, user, first))
