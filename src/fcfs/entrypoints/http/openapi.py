"""What `/schema` says each operation takes and answers: the strict bodies we decode by hand, and
every status an operation can answer, each with the envelope (so schemathesis can hold us to it),
and who may call it (the security schemes; each applies when its setting is set).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus

import msgspec
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from fcfs.entrypoints.http.auth import ADMIN_HEADER

ENVELOPE = Schema(
    type=OpenAPIType.OBJECT,
    properties={
        "isSuccess": Schema(type=OpenAPIType.BOOLEAN),
        "code": Schema(type=OpenAPIType.STRING, description="Stable code: 200, 201, 202, G001 … R001"),
        "message": Schema(type=OpenAPIType.STRING),
        "result": Schema(description="The payload on success; null on errors"),
    },
    required=["isSuccess", "code", "message", "result"],
    additional_properties=False,
)
_JSON = {"application/json": OpenAPIMediaType(schema=ENVELOPE)}
_HEADERS = {
    "X-Request-ID": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="This request's id"),
}
_RETRY_AFTER = {"Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="Seconds to wait")}


def body_schema(kind: type[msgspec.Struct]) -> Schema:
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


def _response(status: int) -> OpenAPIResponse:
    headers = _HEADERS | (_RETRY_AFTER if status == 429 else {})
    return OpenAPIResponse(description=HTTPStatus(status).phrase, content=_JSON, headers=dict(headers))


def header(name: str, description: str, *, max_length: int, pattern: str) -> Parameter:
    """A header the handler reads itself (from the raw scope: no per-request header parsing), documented here."""
    schema = Schema(type=OpenAPIType.STRING, max_length=max_length, pattern=pattern)
    return Parameter(name=name, param_in=ParamType.HEADER, schema=schema, description=description, required=False)


def documented(
    statuses: Iterable[int],
    body: type[msgspec.Struct] | None = None,
    *,
    body_required: bool = True,
    headers: Sequence[Parameter] = (),
) -> type[Operation]:
    """An operation answering the envelope with exactly `statuses`, taking `body` (decoded strictly) as JSON."""
    responses = {str(status): _response(status) for status in sorted(statuses)}
    request_body = (
        None
        if body is None
        else RequestBody(
            content={"application/json": OpenAPIMediaType(schema=body_schema(body))}, required=body_required
        )
    )

    @dataclass
    class _Documented(Operation):
        def __post_init__(self) -> None:
            self.responses = dict(responses)
            if request_body is not None:
                self.request_body = request_body
            if headers:
                self.parameters = [*(self.parameters or ()), *headers]

    return _Documented


def text_operation(description: str) -> type[Operation]:
    return _answering({"200": _string_response(description, "text/plain")})


def event_stream_operation(description: str, refusals: Iterable[int]) -> type[Operation]:
    """200 is a Server-Sent Events stream (`description` says its events); every refusal is the envelope."""
    refused = {str(status): _response(status) for status in sorted(refusals)}
    return _answering({"200": _string_response(description, "text/event-stream"), **refused})


def _string_response(description: str, media_type: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description, content={media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}
    )


def _answering(responses: dict[str, OpenAPIResponse]) -> type[Operation]:
    """An operation whose answers are exactly `responses`, each route getting its own copy."""

    @dataclass
    class _Answering(Operation):
        def __post_init__(self) -> None:
            self.responses = dict(responses)

    return _Answering


ADMIN_SCHEME, USER_SCHEME, ADMIN_HEADER_SCHEME = "adminToken", "userToken", "adminHeader"
SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    ADMIN_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        description="`Authorization: Bearer $FCFS_ADMIN_TOKEN`, required when that variable is set",
    ),
    USER_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="A user token (HS256, `sub` = the user id, `exp` required), when FCFS_USER_TOKEN_SECRET is set",
    ),
    ADMIN_HEADER_SCHEME: SecurityScheme(
        type="apiKey",
        name=ADMIN_HEADER,
        security_scheme_in="header",
        description="The admin token beside a user token, for the issue `?strategy=` override",
    ),
}
ADMIN_ONLY: list[SecurityRequirement] = [{ADMIN_SCHEME: []}]
USER_OR_ADMIN: list[SecurityRequirement] = [{USER_SCHEME: []}, {ADMIN_SCHEME: []}]
ISSUER: list[SecurityRequirement] = [{USER_SCHEME: []}, {USER_SCHEME: [], ADMIN_HEADER_SCHEME: []}, {ADMIN_SCHEME: []}]
