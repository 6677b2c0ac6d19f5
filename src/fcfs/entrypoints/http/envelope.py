"""The original's uniform response envelope, encoded once per response with msgspec.

An `Answer` is the envelope as bytes plus its status and extra headers: the issue route
builds one without any framework object (see `issue_route.py`), and `as_response` turns
it into a Litestar response for every other route, so both paths write identical bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] | None = None


def answer(code: Code, result: Any = None, message: str | None = None, **headers: str) -> Answer:
    body = Envelope(code.http_status < 400, code.code, message or code.message, result)
    return Answer(code.http_status, _encoder.encode(body), headers or None)


def as_response(answered: Answer) -> Response[bytes]:
    return Response(
        content=answered.body,
        status_code=answered.status,
        media_type="application/json",
        headers=answered.headers,
    )


def envelope(code: Code, result: Any = None, message: str | None = None, **headers: str) -> Response[bytes]:
    return as_response(answer(code, result, message, **headers))
