"""The fast issue path: one ASGI wrapper in front of the Litestar app, and nothing else (but
the hand-off of plain `GET`s of the result stream route to `ResultStreamRoute`: result_stream.py says why).

Why: the profile of the issue hot path showed Litestar's per-request machinery (routing,
signature model, dependency injection, response objects, send wrappers) taking more CPU
than the gate and the broker together; a flash sale is this one route at tens of
thousands of requests per second. So a plain `POST` to the issue route is answered here,
from the ASGI messages, and every other request (a query string, another method or path,
lifespan) goes to the Litestar app untouched.

The wrapper changes nothing in the app: the route is the one the Litestar handler
declares (`CouponController.issue`, which the OpenAPI schema documents and which serves
the rare request with a query string); the services are the ones the app's lifespan put
on `app.state`. It keeps everything the API promises: the same `answer_issue`, the body
rules of `body_guard.py`, the request id on the response and in logs,
`fcfs_http_requests_total`, and every error as an envelope.

Why not a Litestar `@asgi` handler on the route (measured by driving the app in-process
with the in-memory twins and comparing CPU per request): it costs about 40 µs per issue request
against 27 µs here, since it still pays for routing, the middleware stack and the before-send
wrapper; Litestar (2.25) refuses it on a path shared with the documented `POST` handler,
leaves it out of the OpenAPI document, and fails to route it when the path has a parameter
(it looks the parameters up by method on an `asgi` node).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fcfs.domain.errors import Code, FcfsError, InvalidInput
from fcfs.entrypoints.http.body_guard import INCOMPLETE, declared_body
from fcfs.entrypoints.http.coupons import CouponController
from fcfs.entrypoints.http.envelope import Answer
from fcfs.entrypoints.http.errors import domain_answer, unexpected_answer
from fcfs.entrypoints.http.issue import IssueRequest, answer_issue
from fcfs.entrypoints.http.request_context import REQUEST_ID, request_id
from fcfs.entrypoints.http.result_stream import ResultStreamRoute

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from litestar import Litestar

    from fcfs.bootstrap.container import Services
    from fcfs.entrypoints.http.request_context import RequestCounter

_JSON = (b"content-type", b"application/json")
DISCARD_BYTES = 1 << 20  # an oversized body is read and dropped up to this much, then refused anyway
Scope = Any  # the raw ASGI dicts, as granian hands them over
Receive = Any
Send = Any


def issue_route_of(app: Litestar) -> tuple[re.Pattern[str], str]:
    """The path pattern and the metric label of the route `CouponController.issue` is mounted on."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if getattr(handler.fn, "__func__", handler.fn) is CouponController.issue.fn:
                pattern = re.sub(r"\\\{\w+:str\\\}", "([^/]+)", re.escape(route.path))
                return re.compile(pattern), route.path_format
    raise LookupError("the app has no CouponController.issue route")


class IssueRoute:
    """The ASGI app granian serves: `POST {issue route}` without a query string answered here,
    `GET {result stream route}` by the stream route, everything else passed to the wrapped Litestar app."""

    def __init__(self, app: Litestar, max_body_bytes: int, counter: RequestCounter) -> None:
        self.app = app
        self._state = app.state
        self._max_body = max_body_bytes
        self._counter = counter
        self._path, self._label = issue_route_of(app)
        self._streams = ResultStreamRoute(app, counter)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """The wrapped app's start-up and shut-down, for callers that run it without a server."""
        return self.app.lifespan()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        coupon = self.coupon_of(scope)
        if coupon is not None:
            await self._issue(scope, receive, send, coupon)
        elif (listener := self._streams.listener_of(scope)) is not None:
            await self._streams.serve(scope, receive, send, *listener)
        else:
            await self.app(scope, receive, send)

    def coupon_of(self, scope: Scope) -> str | None:
        """The raw coupon segment when this route takes the request; None leaves it to Litestar
        (so does a request before the lifespan opened the services)."""
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("query_string"):
            return None
        found = self._path.fullmatch(scope["path"])
        if found is None or "services" not in self._state:
            return None
        return found.group(1)

    async def _issue(self, scope: Scope, receive: Receive, send: Send, coupon: str) -> None:
        services: Services = self._state["services"]
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        try:
            try:
                body = await self._body(scope, receive)
                answered = await answer_issue(services, IssueRequest.from_scope(scope, coupon, body))
            except FcfsError as error:
                answered = domain_answer(error)
            except Exception as error:  # every failure is an envelope, as on every other route
                answered = unexpected_answer(error)
            await self._send(send, answered, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = declared_body(scope["headers"])
        declared.check()
        if declared.length is not None and declared.length > self._max_body:
            if not declared.expects_continue:  # the client is sending it: drain, so the 413 is not a reset
                await _discard(receive, DISCARD_BYTES)
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                raise InvalidInput(INCOMPLETE)
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self._max_body:
                if more:
                    await _discard(receive, DISCARD_BYTES)
                raise _TooLarge
            chunks.append(chunk)
            if not more:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _send(self, send: Send, answered: Answer, rid: str) -> None:
        headers = [_JSON, (b"content-length", b"%d" % len(answered.body)), (b"x-request-id", rid.encode())]
        if answered.headers:
            headers += [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answered.headers.items()
            ]
        self._counter.count("POST", self._label, answered.status)
        await send({"type": "http.response.start", "status": answered.status, "headers": headers})
        await send({"type": "http.response.body", "body": answered.body})


async def _discard(receive: Receive, budget: int) -> None:
    """Read and drop what the client is still sending (up to `budget` bytes) before refusing it:
    a 413 answered while the upload goes on can reach the client as a reset instead of an answer."""
    while budget > 0:
        message: Any = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


class _TooLarge(FcfsError):
    code = Code.BODY_TOO_LARGE


__all__ = ["IssueRoute", "issue_route_of"]
