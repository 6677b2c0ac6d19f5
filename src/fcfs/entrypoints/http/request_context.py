"""A request id on every response and log line, and the HTTP request counter.

`X-Request-ID` is taken from the request when it is sane (1 … 128 of `A-Za-z0-9._:-`),
so a proxy's id follows the request through; otherwise one is made: a random prefix per
process and a counter, unique without a system call per request. The middleware puts it
in a context variable that the JSON log processor adds to every line; the before-send
hook echoes it on the response and counts `fcfs_http_requests_total{method,route,status}`
for every response, unmatched routes included (route `unmatched`, so paths never become labels).
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from fcfs.bootstrap.observability.metrics import Metrics

REQUEST_ID: ContextVar[str | None] = ContextVar("fcfs_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE_KEY = "fcfs.request_id"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_PREFIX = secrets.token_hex(6)
_SEQUENCE = itertools.count(1)


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
            if _SANE_ID.fullmatch(text):
                return str(text)
            break
    return f"{_PREFIX}-{next(_SEQUENCE):x}"


def add_request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current request's id on every line logged while serving it."""
    current = REQUEST_ID.get()
    if current is not None:
        event.setdefault("request_id", current)
    return event


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        token = REQUEST_ID.set(request_id(scope))
        try:
            await app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)

    return middleware


class RequestCounter:
    """`fcfs_http_requests_total{method,route,status}`, one labelled child kept per combination seen."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._children: dict[tuple[str, str, int], Any] = {}

    def count(self, method: str, route: str, status: int) -> None:
        key = (method if method in _METHODS else "other", route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._metrics.http_requests.labels(key[0], key[1], str(status))
        self._metrics.buffer.inc(child)


def response_hook(counter: RequestCounter) -> Any:
    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id(scope).encode())]
        counter.count(str(scope.get("method", "")), scope.get("path_template") or "unmatched", message["status"])

    return before_send
