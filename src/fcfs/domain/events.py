"""Events that cross the broker. Their wire format is docs/design.md §5; the codec lives in the Kafka adapter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id

if TYPE_CHECKING:
    from datetime import datetime

EVENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class CouponIssued:
    """The gate granted `user_id` a `coupon_id`; exactly one row must come of it."""

    event_id: str
    coupon_id: int
    user_id: int
    issued_at: datetime
    version: int = EVENT_VERSION

    def __post_init__(self) -> None:
        ensure_id(self.coupon_id, "couponId")
        ensure_id(self.user_id, "userId")

    @classmethod
    def trusted(cls, event_id: str, coupon_id: int, user_id: int, issued_at: datetime) -> CouponIssued:
        """The event, built without `__post_init__`: for the Kafka codec only, once per consumed record.

        The codec's decoder has already refused every id outside 1 … 2^63−1 (and more: a
        canonical UUID, an aware UTC time, the known version), so repeating the checks cost
        the drain ~7% of its time. Every other caller goes through the checked constructor.
        """
        event = _new(cls)
        _set_event_id(event, event_id)
        _set_coupon_id(event, coupon_id)
        _set_user_id(event, user_id)
        _set_issued_at(event, issued_at)
        _set_version(event, EVENT_VERSION)
        return event

    @property
    def key(self) -> str:
        return f"{self.coupon_id}:{self.user_id}"


# The slots' own setters: they store past the frozen `__setattr__`, as the generated `__init__` does.
_new = object.__new__
_set_event_id, _set_coupon_id, _set_user_id, _set_issued_at, _set_version = (
    CouponIssued.__dict__[name].__set__ for name in ("event_id", "coupon_id", "user_id", "issued_at", "version")
)


class DeadLetterSource(StrEnum):
    PRODUCER = "producer"
    CONSUMER = "consumer"


class DeadLetterReason(StrEnum):
    UNDECODABLE = "undecodable"
    INVALID = "invalid"
    UNKNOWN_VERSION = "unknown_version"
    UNKNOWN_COUPON = "unknown_coupon"
    OVER_CAP = "over_cap"


@dataclass(frozen=True, slots=True)
class IssueDeadLettered:
    """A record that can never be persisted, kept with why, so the partition can move on."""

    raw_value: bytes
    key: bytes | None
    source: DeadLetterSource
    reason: DeadLetterReason
    attempts: int = 1
