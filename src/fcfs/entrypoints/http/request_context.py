"""A request id on every response and log line, and the HTTP request counter.

`X-Request-ID` is taken from the request when it is sane (1 … 128 of `A-Za-z0-9._:-`),
so a proxy's id follows the request through; otherwise one is generated. The middleware
binds it into structlog's context for the handler's log lines; the before-send hook
echoes it on the response and counts `fcfs_http_requests_total{method,route,status}` for
every response, unmatched routes included (route `unmatched`, so paths never become labels).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fcfs.bootstrap.metrics import Metrics

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE_KEY = "fcfs.request_id"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def request_id(scope: Scope | dict[str, Any]) -> str:
    """The scope's request id, chosen once per request."""
    state = scope.setdefault("state", {})
    found = state.get(_STATE_KEY)
    if found is None:
        found = state[_STATE_KEY] = _from_headers(scope.get("headers", ()))
    return str(found)


def _from_headers(headers: Any) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else uuid.uuid4().hex
    return uuid.uuid4().hex


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        with structlog.contextvars.bound_contextvars(request_id=request_id(scope)):
            await app(scope, receive, send)

    return middleware


def response_hook(metrics: Metrics) -> Any:
    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        rid = request_id(scope).encode()
        message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
        method = scope.get("method", "")
        route = scope.get("path_template") or "unmatched"
        metrics.http_requests.labels(method if method in _METHODS else "other", route, str(message["status"])).inc()

    return before_send
