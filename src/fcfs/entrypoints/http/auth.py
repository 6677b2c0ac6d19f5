"""Admin bearer token, compared in constant time. Open when no token is configured (development)."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.datastructures import State

from fcfs.domain.errors import Unauthorized

AnyRequest = Request[Any, Any, State]
ADMIN_HEADER = "X-Fcfs-Admin-Token"  # the admin token beside a user token in `Authorization` (issue ?strategy=)


def token_matches(value: str, token: str) -> bool:
    """True when no token is configured, or `value` is the token."""
    return not token or hmac.compare_digest(value.encode(), token.encode())


def bearer_matches(authorization: str, token: str) -> bool:
    """True when no token is configured, or the `Authorization` value is `Bearer <token>`."""
    if not token:
        return True
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and token_matches(value, token)


def is_admin_bearer(authorization: str, token: str) -> bool:
    """The `Authorization` value carries the configured admin token; never True when none is configured,
    so an open development setup does not make every caller the admin where user tokens guard a route."""
    return bool(token) and bearer_matches(authorization, token)


def require_admin(request: AnyRequest, token: str) -> None:
    if not bearer_matches(request.headers.get("authorization", ""), token):
        raise Unauthorized("admin token required")
