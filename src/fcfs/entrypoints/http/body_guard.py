"""What a request body must be before it is read, the same on both ways in (the fast issue
route and every Litestar route):

- declared JSON: `application/json` or a `+json` type; a body without a Content-Type, or with
  any other (`text/plain` is what a browser sends cross-site without a preflight), is 415 G006;
- complete: a body that ends before it is whole (granian reports a malformed chunked body as a
  disconnect) is 400 G002, not a 500; a client that really left never reads the answer anyway;
- within the limit, judged on the declared length before the first `receive()` (the fast route
  does this itself; Litestar's `request.body()` already does), so `Expect: 100-continue` hears
  413 instead of `100 Continue` and an upload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from fcfs.domain.errors import InvalidInput
from fcfs.entrypoints.http.dto import check_media_type

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
INCOMPLETE = "the request body is malformed or incomplete"
JSON = b"application/json"


@dataclass(slots=True)
class DeclaredBody:
    """The body as the headers announce it (the first of each header counts)."""

    content_type: bytes | None = None
    length: int | None = None
    chunked: bool = False
    expects_continue: bool = False

    def check(self) -> None:
        if self.content_type != JSON:  # the type nearly every request declares needs no parsing
            check_media_type(self.content_type, self.chunked or bool(self.length))


def declared_body(headers: Iterable[tuple[bytes, bytes]]) -> DeclaredBody:
    """One pass over the raw headers, in locals: this runs on every issue request."""
    content_type: bytes | None = None
    length: int | None = None
    chunked = expects_continue = False
    for name, value in headers:
        if name == b"content-type":
            if content_type is None:
                content_type = value
        elif name == b"content-length":
            if length is None:
                if not value.isdigit():
                    raise InvalidInput("Content-Length must be a non-negative integer")
                length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect":
            expects_continue = value.lower() == b"100-continue"
    return DeclaredBody(content_type, length, chunked, expects_continue)


def whole_body(receive: Receive) -> Receive:
    """`receive`, with a disconnect before the last body chunk raised as invalid input."""
    done = False

    async def receive_whole() -> Any:
        nonlocal done
        message = await receive()
        if message["type"] == "http.disconnect":
            if not done:
                raise InvalidInput(INCOMPLETE)
        elif not message.get("more_body", False):
            done = True
        return message

    return receive_whole


def body_guard(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: the rules above for every route that takes a body."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in BODY_METHODS:
            await app(scope, receive, send)
            return
        declared_body(scope["headers"]).check()
        await app(scope, whole_body(receive), send)

    return middleware
