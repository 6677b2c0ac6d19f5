"""One map from every exception to its envelope: bad input is a 4xx with a code, never a 500.

A message says what is wrong (the field and the rule), never what was sent: the framework's
texts carry the whole path and query (`?token=SECRET`, a 60 KB path), so they are rebuilt
from the parameter names and rules, and every message is cut at `MAX_MESSAGE` characters.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException, ValidationException
from litestar.types import ExceptionHandlersMap

from fcfs.domain.errors import Code, FcfsError, RateLimited
from fcfs.entrypoints.http.auth import AnyRequest
from fcfs.entrypoints.http.envelope import Answer, answer, as_response, envelope

log = structlog.get_logger("fcfs.http")
MAX_MESSAGE = 300
_MAX_PART = 120
_MISSING = re.compile(r"Missing required (\w+) parameter '([A-Za-z0-9_.-]{1,64})'")

_BY_STATUS = {
    400: Code.INVALID_INPUT,
    401: Code.UNAUTHORIZED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.BODY_TOO_LARGE,
    429: Code.RATE_LIMITED,
    503: Code.BUSY,
}


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def domain_answer(exc: FcfsError) -> Answer:
    """The envelope for a domain error; also what an idempotent attempt stores for its key."""
    if exc.code.http_status >= 500:
        log.warning("request failed", code=exc.code.code, detail=exc.detail)
    message = bounded(exc.detail)
    if isinstance(exc, RateLimited):
        return answer(exc.code, message=message, **{"Retry-After": str(exc.retry_after_seconds)})
    return answer(exc.code, message=message)


def validation_message(exc: ValidationException) -> str:
    """`<source> parameter <name>: <rule>` for each refused parameter, from the framework's
    structured errors (the names are ours, the rules are msgspec's, neither holds the value)."""
    found = _MISSING.match(exc.detail or "")
    if found:
        return f"Missing required {found.group(1)} parameter {found.group(2)}"
    errors = exc.extra if isinstance(exc.extra, list) else []
    parts = [_parameter_error(error) for error in errors if isinstance(error, dict)]
    return bounded(f"Invalid input: {'; '.join(parts)}" if parts else Code.INVALID_INPUT.message)


def _parameter_error(error: dict[str, Any]) -> str:
    source, key, rule = (_text(error.get(name, "")) for name in ("source", "key", "message"))
    return f"{source} parameter {key}: {rule}" if source else f"{key}: {rule}"


def _text(value: object) -> str:
    return bounded(str(getattr(value, "value", value)), _MAX_PART)  # `ParamType.PATH` → "path"


def _fixed_text(detail: str, fallback: str) -> str:
    """The framework's own words before any value it appended (`Invalid content-length: '…'`);
    a text that names a path, or is long, is replaced by the code's message."""
    head = detail.split(": ", 1)[0]
    return fallback if not head or len(head) > 80 or "/" in head or "?" in head else head


def unexpected_answer(exc: BaseException) -> Answer:
    log.exception("unhandled error", exc_info=exc)
    return answer(Code.INTERNAL)


def domain_response(exc: FcfsError) -> Response[bytes]:
    return as_response(domain_answer(exc))


def _domain(_: AnyRequest, exc: FcfsError) -> Response[bytes]:
    return domain_response(exc)


def _http(_: AnyRequest, exc: HTTPException) -> Response[bytes]:
    code = _BY_STATUS.get(exc.status_code)
    if code is None:
        code = Code.INVALID_INPUT if exc.status_code < 500 else Code.INTERNAL
    if isinstance(exc, ValidationException):
        detail = validation_message(exc)
    else:
        detail = _fixed_text(exc.detail or "", code.message)
    response = envelope(code, message=detail)
    response.status_code = exc.status_code if exc.status_code >= 400 else code.http_status
    return response


def _unexpected(_: AnyRequest, exc: Exception) -> Response[bytes]:
    return as_response(unexpected_answer(exc))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    FcfsError: _domain,
    ValidationException: _http,
    NotFoundException: _http,
    MethodNotAllowedException: _http,
    HTTPException: _http,
    Exception: _unexpected,
}
