"""Request and response bodies. Requests decode strictly: "5" is not an integer here, a key
given twice is refused, and only JSON media types are read as JSON."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec

from fcfs.domain.coupon import MAX_ID, MAX_NAME_LENGTH, MAX_TOTAL_QUANTITY, Coupon
from fcfs.domain.errors import Code, FcfsError, InvalidInput

T = TypeVar("T", bound=msgspec.Struct)
UserId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
ID_PATTERN = r"^[1-9][0-9]{0,18}$"
_ID_RE = re.compile(ID_PATTERN, re.ASCII)


def parse_id(raw: str, what: str) -> int:
    """Path ids: ASCII digits only (no sign, no unicode digits), within 1 … 2^63−1."""
    if not _ID_RE.fullmatch(raw) or int(raw) > MAX_ID:
        raise InvalidInput(f"{what} must be an integer from 1 to {MAX_ID}")
    return int(raw)


class CreateCouponBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
    total_quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOTAL_QUANTITY)]
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class LoadStockBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """`quantity` loads the gate; `add` or a raised `totalQuantity` is a top-up (one of the three, or none)."""

    quantity: Annotated[int, msgspec.Meta(ge=0, le=MAX_TOTAL_QUANTITY)] | None = None
    add: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOTAL_QUANTITY)] | None = None
    total_quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOTAL_QUANTITY)] | None = None

    @property
    def is_top_up(self) -> bool:
        return self.add is not None or self.total_quantity is not None


class IssueBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """`userId` is required unless a user token names the user (then it may be left out, or must match)."""

    user_id: UserId | None = None


class UnsupportedMediaType(FcfsError):
    code = Code.UNSUPPORTED_MEDIA_TYPE


def is_json(content_type: bytes) -> bool:
    """`application/json` or a `+json` type (parameters ignored): the only bodies read as JSON.

    Why: `text/plain` and the form types are what a browser sends cross-site without a preflight.
    """
    if content_type == b"application/json":
        return True
    media = content_type.partition(b";")[0].strip().lower()
    kind, _, subtype = media.partition(b"/")
    return kind == b"application" and (subtype == b"json" or (subtype.endswith(b"+json") and len(subtype) > 5))


def check_media_type(content_type: bytes | None, has_body: bool) -> None:
    """A body must be declared JSON; no body needs no type."""
    if content_type is None:
        if has_body:
            raise UnsupportedMediaType("a body needs Content-Type: application/json")
    elif not is_json(content_type):
        raise UnsupportedMediaType()


def decode(body: bytes, kind: type[T], *, empty_ok: bool = False) -> T:
    if not body.strip() and empty_ok:
        return kind()
    try:
        decoded = msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if body.count(b'"') > 2:  # one key takes two quotes; a key given twice, four
        _refuse_repeated_keys(body)
    return decoded


def _refuse_repeated_keys(body: bytes) -> None:
    """msgspec keeps the last of repeated keys, silently; the exact check runs only on a body with
    more than one string in it, so the issue body (`{"userId": N}`) never pays for it."""

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        found = dict(items)
        if len(found) != len(items):
            raise InvalidInput("invalid body: a key is given more than once")
        return found

    json.loads(body, object_pairs_hook=pairs)


def coupon_json(coupon: Coupon) -> dict[str, object]:
    return {
        "id": coupon.id,
        "name": coupon.name,
        "totalQuantity": coupon.total_quantity,
        "issuedQuantity": coupon.issued_quantity,
        "startsAt": coupon.window.starts_at.isoformat() if coupon.window.starts_at else None,
        "endsAt": coupon.window.ends_at.isoformat() if coupon.window.ends_at else None,
        "createdAt": coupon.created_at.isoformat(),
        "state": coupon.state.value,
    }
