"""The ledger of events whose publish outcome is unknown (docs/design.md §6.3), kept in Redis.

One hash per coupon, `<prefix>:{c:<couponId>}:unconfirmed`, field `eventId` → the event as
the wire JSON of docs/design.md §5. It shares the coupon's slot and never expires: an entry
leaves only when reconciliation settles it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.domain.errors import FcfsError
from fcfs.domain.events import CouponIssued
from fcfs.ports.publisher import UnconfirmedEvents

if TYPE_CHECKING:
    from fcfs.adapters.redis.client import RedisClient

log = structlog.get_logger("fcfs.redis.unconfirmed")


class RedisUnconfirmedEvents(UnconfirmedEvents):
    """Raises `GateError` when Redis fails; `record` and `settle` are idempotent."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._client = client
        self._keys = KeySpace(prefix)

    async def record(self, event: CouponIssued) -> None:
        with gate_errors(f"record unconfirmed event {event.event_id}"):
            await self._client.hset(self._keys.coupon(event.coupon_id).unconfirmed, event.event_id, encode(event))

    async def list(self, coupon_id: int) -> list[CouponIssued]:
        """Every recorded event of the coupon, oldest first; an entry that cannot be decoded is logged and skipped."""
        with gate_errors(f"list unconfirmed events of coupon {coupon_id}"):
            raw = await self._client.hgetall(self._keys.coupon(coupon_id).unconfirmed)
        events: list[CouponIssued] = []
        for field, value in raw.items():
            try:
                events.append(decode(value))
            except (ValueError, TypeError, KeyError, FcfsError) as error:
                log.warning("unconfirmed_event_undecodable", coupon_id=coupon_id, field=repr(field), error=repr(error))
        return sorted(events, key=lambda event: (event.issued_at, event.event_id))

    async def settle(self, event: CouponIssued) -> None:
        with gate_errors(f"settle unconfirmed event {event.event_id}"):
            await self._client.hdel(self._keys.coupon(event.coupon_id).unconfirmed, event.event_id)


def encode(event: CouponIssued) -> str:
    """The wire JSON of docs/design.md §5, `issuedAt` as RFC 3339 in UTC with a `Z`."""
    issued_at = event.issued_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "eventId": event.event_id,
            "couponId": event.coupon_id,
            "userId": event.user_id,
            "issuedAt": issued_at,
            "version": event.version,
        },
        separators=(",", ":"),
    )


def decode(raw: str | bytes) -> CouponIssued:
    data: dict[str, Any] = json.loads(raw)
    issued_at = datetime.fromisoformat(data["issuedAt"])
    if issued_at.tzinfo is None:
        raise ValueError("issuedAt carries no timezone")
    event_id = data["eventId"]
    version = data["version"]
    if not isinstance(event_id, str) or type(version) is not int:
        raise TypeError("eventId must be a string and version an integer")
    return CouponIssued(event_id, data["couponId"], data["userId"], issued_at.astimezone(UTC), version)
