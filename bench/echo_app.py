"""The framework's ceiling: the issue endpoint's shape with nothing behind it.

Same server (granian, ASGI, uvloop), same route shape, same strict msgspec body, same
envelope encoder, the same garbage-collector freeze at start-up; no gate, no broker, no
database. What fcfs adds is the difference.
"""

from __future__ import annotations

from litestar import Litestar, Request, Response, post

from fcfs.domain.errors import Code
from fcfs.entrypoints.http.app import freeze_startup_objects
from fcfs.entrypoints.http.dto import IssueBody, decode, parse_id
from fcfs.entrypoints.http.envelope import envelope


@post("/api/v1/coupons/{coupon_id:str}/issue", status_code=202)
async def issue(request: Request, coupon_id: str) -> Response[bytes]:  # type: ignore[type-arg]
    body = decode(await request.body(), IssueBody)
    result = {"couponId": parse_id(coupon_id, "couponId"), "userId": body.user_id, "status": "accepted"}
    return envelope(Code.ACCEPTED, result)


def create_app() -> Litestar:
    # As fcfs's workers do (`freeze_startup_objects`): the comparison is of request paths, not GC settings.
    return Litestar(route_handlers=[issue], debug=False, on_startup=[freeze_startup_objects])
