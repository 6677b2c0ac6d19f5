"""Admin bearer token, compared in constant time. Open when no token is configured (development)."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.datastructures import State

from fcfs.domain.errors import Unauthorized

AnyRequest = Request[Any, Any, State]


def require_admin(request: AnyRequest, token: str) -> None:
    if not token:
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        raise Unauthorized("admin token required")


def is_admin(request: AnyRequest, token: str) -> bool:
    try:
        require_admin(request, token)
    except Unauthorized:
        return False
    return True
