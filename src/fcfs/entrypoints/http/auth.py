"""Admin bearer token, compared in constant time. Open when no token is configured (development)."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.datastructures import State

from fcfs.domain.errors import Unauthorized

AnyRequest = Request[Any, Any, State]


def bearer_matches(authorization: str, token: str) -> bool:
    """True when no token is configured, or the `Authorization` value is `Bearer <token>`."""
    if not token:
        return True
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())


def require_admin(request: AnyRequest, token: str) -> None:
    if not bearer_matches(request.headers.get("authorization", ""), token):
        raise Unauthorized("admin token required")


def is_admin(request: AnyRequest, token: str) -> bool:
    return bearer_matches(request.headers.get("authorization", ""), token)
