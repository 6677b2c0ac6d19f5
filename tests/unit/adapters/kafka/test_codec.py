"""The wire format of CouponIssued (docs/design.md §5): what round-trips, and why each bad record is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcfs.adapters.kafka.codec import Undecodable, decode_event, decode_events, encode_event, event_key
from fcfs.domain.coupon import MAX_ID
from fcfs.domain.errors import InvalidInput
from fcfs.domain.events import CouponIssued, DeadLetterReason

ids = st.integers(min_value=1, max_value=MAX_ID)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC))


def wire(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "eventId": "6f1c8a52-0d5e-4c1e-9c59-2b1f0b7f3a10",
        "couponId": 7,
        "userId": 42,
        "issuedAt": "2026-01-01T12:00:00.250000Z",
        "version": 1,
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not MISSING}).encode()


MISSING = object()


def refusal(raw: bytes | None) -> Undecodable:
    with pytest.raises(Undecodable) as caught:
        decode_event(raw)
    return caught.value


@given(event_id=st.uuids(), coupon_id=ids, user_id=ids, issued_at=moments)
def test_every_valid_event_survives_a_round_trip(
    event_id: uuid.UUID, coupon_id: int, user_id: int, issued_at: datetime
) -> None:
    event = CouponIssued(str(event_id), coupon_id, user_id, issued_at)

    assert decode_event(encode_event(event)) == event


@given(event_id=st.uuids(), coupon_id=ids, user_id=ids, issued_at=moments)
def test_a_trusted_event_is_the_checked_one(
    event_id: uuid.UUID, coupon_id: int, user_id: int, issued_at: datetime
) -> None:
    checked = CouponIssued(str(event_id), coupon_id, user_id, issued_at)
    trusted = CouponIssued.trusted(str(event_id), coupon_id, user_id, issued_at)

    assert trusted == checked
    assert hash(trusted) == hash(checked)
    assert repr(trusted) == repr(checked)
    assert type(trusted) is CouponIssued


@given(events=st.lists(st.builds(CouponIssued, st.uuids().map(str), ids, ids, moments), max_size=20))
def test_the_batch_decoder_gives_the_checked_events(events: list[CouponIssued]) -> None:
    assert decode_events([encode_event(event) for event in events]) == events


@pytest.mark.parametrize("bad_id", [0, -1, MAX_ID + 1, True, "5"])
def test_every_caller_but_the_codec_still_gets_the_checks(bad_id: object) -> None:
    with pytest.raises(InvalidInput):
        CouponIssued(str(uuid.uuid4()), bad_id, 1, datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        CouponIssued(str(uuid.uuid4()), 1, bad_id, datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_the_value_is_the_documented_json_and_the_key_is_coupon_colon_user() -> None:
    event = CouponIssued(
        "6f1c8a52-0d5e-4c1e-9c59-2b1f0b7f3a10", 7, 42, datetime(2026, 1, 1, 21, 0, tzinfo=timezone(timedelta(hours=9)))
    )

    assert json.loads(encode_event(event)) == {
        "eventId": "6f1c8a52-0d5e-4c1e-9c59-2b1f0b7f3a10",
        "couponId": 7,
        "userId": 42,
        "issuedAt": "2026-01-01T12:00:00Z",
        "version": 1,
    }
    assert event_key(event) == b"7:42"


def test_a_timestamp_with_an_offset_is_read_as_the_same_instant_in_utc() -> None:
    event = decode_event(wire(issuedAt="2026-01-01T21:00:00+09:00"))

    assert event.issued_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert event.issued_at.utcoffset() == timedelta(0)


def test_unknown_extra_fields_are_ignored() -> None:
    assert decode_event(wire(traceId="abc")).user_id == 42


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("couponId", "5"),
        ("couponId", 5.0),
        ("couponId", True),
        ("couponId", 0),
        ("couponId", -1),
        ("couponId", MAX_ID + 1),
        ("couponId", 2**80),
        ("couponId", None),
        ("userId", "42"),
        ("userId", 42.0),
        ("userId", False),
        ("userId", 0),
        ("userId", MAX_ID + 1),
        ("eventId", "not-a-uuid"),
        ("eventId", 12),
        ("issuedAt", "2026-01-01"),
        ("issuedAt", "2026-01-01T12:00:00"),
        ("issuedAt", "yesterday"),
        ("issuedAt", 1767268800),
        ("version", "1"),
        ("version", True),
        ("version", None),
    ],
)
def test_a_v1_event_with_a_bad_value_is_invalid_never_coerced(field: str, value: object) -> None:
    assert refusal(wire(**{field: value})).reason is DeadLetterReason.INVALID


@pytest.mark.parametrize("field", ["eventId", "couponId", "userId", "issuedAt", "version"])
def test_an_event_missing_a_field_is_invalid(field: str) -> None:
    assert refusal(wire(**{field: MISSING})).reason is DeadLetterReason.INVALID


@pytest.mark.parametrize("version", [0, 2, 99])
def test_an_unknown_version_is_refused_as_such(version: int) -> None:
    assert refusal(wire(version=version)).reason is DeadLetterReason.UNKNOWN_VERSION


def test_an_unknown_version_is_recognised_even_when_its_fields_differ() -> None:
    raw = json.dumps({"version": 2, "grant": {"coupon": 7, "user": 42}}).encode()

    assert refusal(raw).reason is DeadLetterReason.UNKNOWN_VERSION


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"\xff\xfe", b'{"eventId": ', b"[1, 2]", b'"a string"', b"42", b"null", None]
)
def test_what_is_not_a_json_object_is_undecodable(raw: bytes | None) -> None:
    assert refusal(raw).reason is DeadLetterReason.UNDECODABLE


def test_a_refusal_says_what_was_wrong() -> None:
    assert "couponId" in refusal(wire(couponId="5")).detail


def test_encoding_refuses_an_event_the_consumer_would_refuse() -> None:
    with pytest.raises(InvalidInput):
        encode_event(CouponIssued("e-1", 1, 1, datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(InvalidInput):
        encode_event(CouponIssued(str(uuid.uuid4()), 1, 1, datetime(2026, 1, 1)))  # noqa: DTZ001
