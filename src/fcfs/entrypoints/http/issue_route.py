"""`POST /api/v1/coupons/{id}/issue` answered straight from ASGI messages, before Litestar routes.

Why: the profile of the issue hot path showed Litestar's per-request machinery (routing,
signature model, dependency injection, response objects, send wrappers) taking more CPU
than the gate and the broker together; a flash sale is this one route at tens of
thousands of requests per second. The route keeps everything the API promises: the same
`answer_issue` as the Litestar handler (which the OpenAPI schema documents and which
serves any request with a query string), the body-size limit, the request id on the
response and in logs, `fcfs_http_requests_total`, and every error as an envelope.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fcfs.domain.errors import Code, FcfsError, InvalidInput
from fcfs.entrypoints.http.envelope import Answer
from fcfs.entrypoints.http.errors import domain_answer, unexpected_answer
from fcfs.entrypoints.http.issue import IssueRequest, answer_issue
from fcfs.entrypoints.http.request_context import REQUEST_ID, request_id

if TYPE_CHECKING:
    from fcfs.bootstrap.container import Services
    from fcfs.entrypoints.http.request_context import RequestCounter

ISSUE_PATH = re.compile(r"/api/v1/coupons/([^/]+)/issue")
ROUTE_TEMPLATE = "/api/v1/coupons/{coupon_id}/issue"  # as Litestar labels it
_JSON = (b"content-type", b"application/json")
DISCARD_BYTES = 1 << 20  # an oversized body is read and dropped up to this much, then refused anyway
Scope = Any  # the raw ASGI dicts, as granian hands them over
Receive = Any
Send = Any


class ClientGone(Exception):
    """The client disconnected before its body arrived: nothing to answer."""


class IssueRoute:
    def __init__(self, max_body_bytes: int, counter: RequestCounter) -> None:
        self._max_body = max_body_bytes
        self._counter = counter
        self.services: Services | None = None  # set while the app's lifespan has them open

    def coupon_of(self, scope: Scope) -> str | None:
        """The raw coupon segment when this route takes the request; None leaves it to Litestar."""
        if self.services is None or scope["type"] != "http" or scope.get("method") != "POST":
            return None
        if scope.get("query_string"):
            return None
        found = ISSUE_PATH.fullmatch(scope["path"])
        return found.group(1) if found else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send, coupon: str) -> None:
        services = self.services
        assert services is not None
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        try:
            try:
                body = await self._body(scope, receive)
                answered = await answer_issue(services, IssueRequest.from_scope(scope, coupon, body))
            except ClientGone:
                return
            except FcfsError as error:
                answered = domain_answer(error)
            except Exception as error:  # every failure is an envelope, as on every other route
                answered = unexpected_answer(error)
            await self._send(send, answered, rid)
        finally:
            REQUEST_ID.reset(token)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise InvalidInput(f"Invalid content-length: {value.decode('latin-1')!r}") from None
                if declared > self._max_body:
                    await _discard(receive, DISCARD_BYTES)
                    raise _TooLarge
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
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
        self._counter.count("POST", ROUTE_TEMPLATE, answered.status)
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


__all__ = ["ISSUE_PATH", "ROUTE_TEMPLATE", "IssueRoute"]
