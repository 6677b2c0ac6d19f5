"""The original's uniform response envelope, encoded once per response with msgspec."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

from fcfs.domain.errors import Code

_encoder = msgspec.json.Encoder()


class Envelope(msgspec.Struct, rename="camel"):
    is_success: bool
    code: str
    message: str
    result: Any = None


def envelope(code: Code, result: Any = None, message: str | None = None, **headers: str) -> Response[bytes]:
    body = Envelope(code.http_status < 400, code.code, message or code.message, result)
    return Response(
        content=_encoder.encode(body),
        status_code=code.http_status,
        media_type="application/json",
        headers=headers or None,
    )
