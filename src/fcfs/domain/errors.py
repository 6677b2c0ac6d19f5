"""Every failure the system can report, each with one stable code.

The table of codes lives here and only here: the HTTP envelope, the README and the
CLI all read it, so a code never drifts between the places that show it.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class Code(Enum):
    """Stable envelope codes (kept from the original where it had them) with HTTP status and text."""

    OK = ("200", 200, "OK")
    CREATED = ("201", 201, "Created")
    ACCEPTED = ("202", 202, "Accepted: issuance is being persisted")
    NO_CONTENT = ("204", 204, "No content")
    INTERNAL = ("G001", 500, "Internal server error")
    INVALID_INPUT = ("G002", 400, "Invalid input")
    TEMPORARY = ("S001", 500, "Temporary error, try again")
    BUSY = ("S002", 503, "System busy, try again")
    WAIT_TIMEOUT = ("S003", 408, "Wait timed out")
    COUPON_NOT_FOUND = ("C001", 404, "Coupon not found")
    ALREADY_ISSUED = ("C002", 409, "Coupon already issued to this user")
    SOLD_OUT = ("C003", 409, "Coupon sold out")
    UNKNOWN_STRATEGY = ("C004", 400, "Unknown issue strategy")
    NOT_OPEN = ("C005", 409, "Coupon is not open for issuance now")
    STOCK_NOT_LOADED = ("C006", 409, "Coupon stock is not loaded")
    STOCK_CONFLICT = ("C007", 409, "Requested stock exceeds what is left to issue")
    STRATEGY_UNAVAILABLE = ("C008", 400, "Strategy cannot run on the configured backends")
    PAUSED = ("C009", 409, "Coupon issuance is paused")
    STRATEGY_CONFLICT = ("C010", 409, "Strategy conflicts with how this coupon is being issued")
    UNAUTHORIZED = ("A001", 401, "Unauthorized")
    FORBIDDEN = ("A002", 403, "Forbidden")
    RATE_LIMITED = ("R001", 429, "Too many requests")
    BODY_TOO_LARGE = ("G003", 413, "Request body too large")
    NOT_FOUND = ("G004", 404, "No such resource")
    METHOD_NOT_ALLOWED = ("G005", 405, "Method not allowed")
    UNSUPPORTED_MEDIA_TYPE = ("G006", 415, "Unsupported media type: send application/json")
    IDEMPOTENCY_KEY_REUSED = ("G007", 422, "Idempotency-Key already used for a different request")

    def __init__(self, code: str, http_status: int, message: str) -> None:
        self.code = code
        self.http_status = http_status
        self.message = message


class FcfsError(Exception):
    """Base of every error a port or use case may raise; carries its envelope code.

    A subclass names its code once, in its header (`class X(FcfsError, code=Code.Y)`);
    one without a code keeps its parent's.
    """

    code: ClassVar[Code] = Code.INTERNAL

    def __init_subclass__(cls, code: Code | None = None) -> None:
        super().__init_subclass__()
        if code is not None:
            cls.code = code

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.code.message)
        self.detail = detail or self.code.message


class InvalidInput(FcfsError, code=Code.INVALID_INPUT): ...


class CouponNotFound(FcfsError, code=Code.COUPON_NOT_FOUND): ...


class UnknownStrategy(FcfsError, code=Code.UNKNOWN_STRATEGY): ...


class StrategyUnavailable(FcfsError, code=Code.STRATEGY_UNAVAILABLE): ...


class StrategyConflict(FcfsError, code=Code.STRATEGY_CONFLICT):
    """The coupon's truth lives where another strategy family keeps it (Redis gate vs database):
    mixing them would issue past the total or leave an admitted user without a row."""


class StockConflict(FcfsError, code=Code.STOCK_CONFLICT): ...


class IssuancePaused(FcfsError, code=Code.PAUSED):
    """An operator paused the coupon: nothing was consumed, and the same attempt may succeed after a resume.

    An error rather than an outcome because it decides nothing: an `Idempotency-Key`
    claim is released (not answered C009 forever), and no sold-out flag is raised.
    """


class CouponClosed(FcfsError, code=Code.NOT_OPEN):
    """A closed coupon stays closed: it cannot be paused or resumed (C005, as any attempt on it)."""


class TemporaryFailure(FcfsError, code=Code.TEMPORARY):
    """An infrastructure call failed and nothing was issued: the caller may retry."""


class SystemBusy(FcfsError, code=Code.BUSY):
    """Load was shed (bulkhead full, broker down after compensation): nothing was issued."""


class WaitTimedOut(FcfsError, code=Code.WAIT_TIMEOUT):
    """A lock or permit could not be had in time: nothing was issued."""


class Unauthorized(FcfsError, code=Code.UNAUTHORIZED): ...


class Forbidden(FcfsError, code=Code.FORBIDDEN): ...


class RateLimited(FcfsError, code=Code.RATE_LIMITED):
    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class StorageError(TemporaryFailure):
    """The database failed; adapters raise this instead of their driver's errors."""


class GateError(TemporaryFailure):
    """The issuance gate (Redis) failed before answering; nothing is known to be issued."""


class PublishFailed(SystemBusy):
    """The event was certainly not written to the broker."""


class PublishOutcomeUnknown(FcfsError, code=Code.TEMPORARY):
    """The broker did not answer in time: the event may or may not be written."""
