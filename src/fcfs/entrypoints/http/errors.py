"""One map from every exception to its envelope: bad input is a 4xx with a code, never a 500."""

from __future__ import annotations

import structlog
from litestar import Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException, ValidationException
from litestar.types import ExceptionHandlersMap

from fcfs.domain.errors import Code, FcfsError, RateLimited
from fcfs.entrypoints.http.auth import AnyRequest
from fcfs.entrypoints.http.envelope import Answer, answer, as_response, envelope

log = structlog.get_logger("fcfs.http")

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


def domain_answer(exc: FcfsError) -> Answer:
    """The envelope for a domain error; also what an idempotent attempt stores for its key."""
    if exc.code.http_status >= 500:
        log.warning("request failed", code=exc.code.code, detail=exc.detail)
    if isinstance(exc, RateLimited):
        return answer(exc.code, message=exc.detail, **{"Retry-After": str(exc.retry_after_seconds)})
    return answer(exc.code, message=exc.detail)


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
    detail = exc.detail if exc.detail else code.message
    if isinstance(exc, ValidationException) and exc.extra:
        detail = f"{detail}: {exc.extra}"
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
