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

    @property
    def key(self) -> str:
        return f"{self.coupon_id}:{self.user_id}"


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
