"""Request and response bodies. Requests decode strictly: "5" is not an integer here."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema

from fcfs.domain.coupon import MAX_ID, MAX_NAME_LENGTH, MAX_TOTAL_QUANTITY, Coupon
from fcfs.domain.errors import InvalidInput

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
    quantity: Annotated[int, msgspec.Meta(ge=0, le=MAX_TOTAL_QUANTITY)] | None = None


class IssueBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    user_id: UserId


def decode(body: bytes, kind: type[T], *, empty_ok: bool = False) -> T:
    if not body.strip() and empty_ok:
        return kind()
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


def coupon_json(coupon: Coupon) -> dict[str, object]:
    return {
        "id": coupon.id,
        "name": coupon.name,
        "totalQuantity": coupon.total_quantity,
        "issuedQuantity": coupon.issued_quantity,
        "startsAt": coupon.window.starts_at.isoformat() if coupon.window.starts_at else None,
        "endsAt": coupon.window.ends_at.isoformat() if coupon.window.ends_at else None,
        "createdAt": coupon.created_at.isoformat(),
    }


def _body_schema(kind: type[msgspec.Struct]) -> Schema:
    spec = msgspec.json.schema(kind)
    definition = spec["$defs"][kind.__name__]
    properties: dict[str, Schema | Reference] = {}
    for name, prop in definition["properties"].items():
        options = prop.get("anyOf", [prop])
        main = next(option for option in options if option.get("type") != "null")
        properties[name] = Schema(
            type=OpenAPIType(main["type"]),
            minimum=main.get("minimum"),
            maximum=main.get("maximum"),
            min_length=main.get("minLength"),
            max_length=main.get("maxLength"),
            format=main.get("format"),
        )
    return Schema(
        type=OpenAPIType.OBJECT,
        properties=properties,
        required=definition.get("required", []),
        additional_properties=False,
    )


def operation_with_body(kind: type[msgspec.Struct], *, required: bool = True) -> type[Operation]:
    """An OpenAPI operation declaring the body we decode by hand (strictly) as `kind`."""
    schema = _body_schema(kind)

    class _WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)}, required=required
            )

    return _WithBody
