"""The wire format of `CouponIssued` (docs/design.md §5), and why a record that does not fit it is refused.

Value: `{"eventId": uuid, "couponId": int, "userId": int, "issuedAt": RFC 3339 UTC, "version": 1}`;
key: `<couponId>:<userId>`, so every event of one user lands on one partition, in order.

Decoding never coerces: `"5"`, `5.0` and `true` are not ids, an id outside 1 … 2^63−1 is
refused, a timestamp without an offset is refused. Each refusal names its reason:
`undecodable` (not UTF-8 JSON, or JSON that is not an object), `unknown_version` (an object
whose integer `version` this code does not know) or `invalid` (anything else). Unknown
extra fields are ignored, so a producer may add fields without breaking old consumers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import msgspec

from fcfs.domain.coupon import MAX_ID
from fcfs.domain.errors import InvalidInput
from fcfs.domain.events import EVENT_VERSION, CouponIssued, DeadLetterReason, all_canonical_uuids

if TYPE_CHECKING:
    from collections.abc import Sequence

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class _WireEvent(msgspec.Struct, rename="camel", frozen=True):
    event_id: uuid.UUID
    coupon_id: Id
    user_id: Id
    issued_at: datetime
    version: int


class _TextWireEvent(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """The event id as text, kept only when it is already what `str(uuid.UUID(...))` gives (checked per batch)."""

    event_id: str
    coupon_id: Id
    user_id: Id
    issued_at: datetime
    version: int


class _OutgoingEvent(msgspec.Struct, rename="camel", frozen=True):
    event_id: str
    coupon_id: int
    user_id: int
    issued_at: datetime
    version: int


class _VersionProbe(msgspec.Struct):
    version: object = None


_decoder = msgspec.json.Decoder(_WireEvent)
_text = msgspec.json.Decoder(_TextWireEvent)
_probe = msgspec.json.Decoder(_VersionProbe)
_encoder = msgspec.json.Encoder()


class Undecodable(Exception):
    """Why a record can never become a `CouponIssued`."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def event_key(event: CouponIssued) -> bytes:
    return event.key.encode()


def encode_event(event: CouponIssued) -> bytes:
    """Raises `InvalidInput` for an event the consumer would refuse (no UUID id, naive time)."""
    try:
        event_id = str(uuid.UUID(event.event_id))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"eventId {event.event_id!r} is not a UUID") from None
    if event.issued_at.tzinfo is None:
        raise InvalidInput("issuedAt must carry a timezone")
    wire = _OutgoingEvent(event_id, event.coupon_id, event.user_id, event.issued_at.astimezone(UTC), event.version)
    return _encoder.encode(wire)


def decode_event(raw: bytes | None) -> CouponIssued:
    """The event in `raw`, or `Undecodable` with the reason it goes to the dead-letter topic."""
    if raw is None:
        raise Undecodable(DeadLetterReason.UNDECODABLE, "record has no value")
    return _event(_full_decode(raw))


def decode_events(raws: Sequence[bytes | None]) -> list[CouponIssued | Undecodable]:
    """`decode_event` of each value, in order, with what each one raised in place of its event.

    The consumer's path, per batch: ids are read as text, and when every one read is
    already a canonical UUID (what our producer writes; one match over all of them) the
    `uuid.UUID` round trip is skipped. Otherwise each value, and always a value the text
    read refused, takes `decode_event`: what is accepted, refused and why is exactly what
    `decode_event` says.
    """
    wires: list[_TextWireEvent | None] = []
    for raw in raws:
        try:
            wires.append(_text.decode(raw) if raw is not None else None)
        except msgspec.DecodeError:
            wires.append(None)
    if not all_canonical_uuids([wire.event_id for wire in wires if wire is not None]):
        return [_decoded(raw) for raw in raws]
    # What `_event` would do for a read v1 event in UTC, inline (the common case, once per
    # record); any other read goes through `_event` itself, so the answers are the same.
    trusted = CouponIssued.trusted
    decoded: list[CouponIssued | Undecodable] = []
    append = decoded.append
    for raw, wire in zip(raws, wires, strict=True):
        if wire is not None and wire.version == EVENT_VERSION and wire.issued_at.tzinfo is UTC:
            append(trusted(wire.event_id, wire.coupon_id, wire.user_id, wire.issued_at))
        else:
            append(_decoded(raw, wire))
    return decoded


def _decoded(raw: bytes | None, wire: _TextWireEvent | None = None) -> CouponIssued | Undecodable:
    try:
        return _event(wire) if wire is not None else decode_event(raw)
    except Undecodable as refusal:
        return refusal


def _event(wire: _TextWireEvent | _WireEvent) -> CouponIssued:
    if wire.version != EVENT_VERSION:
        raise Undecodable(DeadLetterReason.UNKNOWN_VERSION, f"version {wire.version} is not {EVENT_VERSION}")
    issued_at = wire.issued_at
    if issued_at.tzinfo is not UTC:
        if issued_at.tzinfo is None:
            raise Undecodable(DeadLetterReason.INVALID, "issuedAt carries no UTC offset")
        issued_at = issued_at.astimezone(UTC)
    return CouponIssued.trusted(str(wire.event_id), wire.coupon_id, wire.user_id, issued_at)


def _full_decode(raw: bytes) -> _WireEvent:
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise _refusal(raw, str(error)) from None
    except msgspec.DecodeError as error:
        raise Undecodable(DeadLetterReason.UNDECODABLE, str(error)) from None


def _refusal(raw: bytes, detail: str) -> Undecodable:
    """Tell a non-object and an unknown version apart from a v1 event with bad values."""
    try:
        version = _probe.decode(raw).version
    except msgspec.DecodeError:
        return Undecodable(DeadLetterReason.UNDECODABLE, detail)
    if type(version) is int and version != EVENT_VERSION:
        return Undecodable(DeadLetterReason.UNKNOWN_VERSION, f"version {version} is not {EVENT_VERSION}")
    return Undecodable(DeadLetterReason.INVALID, detail)
