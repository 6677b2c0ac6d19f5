"""Coupon endpoints (docs/design.md §3). Each handler: parse → command → use case → envelope."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Response, delete, get, post
from litestar.params import Parameter

from fcfs.domain.coupon import NewCoupon, ValidityWindow
from fcfs.domain.errors import Code, InvalidInput
from fcfs.domain.issuance import IssueStatus
from fcfs.entrypoints.http.auth import AnyRequest, require_admin
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import (
    ID_PATTERN,
    CreateCouponBody,
    IssueBody,
    LoadStockBody,
    coupon_json,
    decode,
    parse_id,
)
from fcfs.entrypoints.http.envelope import as_response, envelope
from fcfs.entrypoints.http.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from fcfs.entrypoints.http.issue import IssueRequest, answer_issue
from fcfs.entrypoints.http.openapi import ADMIN_ONLY, ISSUER, USER_OR_ADMIN, documented, header
from fcfs.entrypoints.http.user_token import require_reader

CouponIdParam = Parameter(pattern=ID_PATTERN, description="Coupon id, 1 … 2^63−1")
UserIdParam = Parameter(pattern=ID_PATTERN, description="User id, 1 … 2^63−1")
IDEMPOTENCY_KEY = header(
    "Idempotency-Key",
    "Same key and request within the TTL: the first answer again, never a second attempt; "
    "the key sent with another request (user, coupon, strategy) is 422 G007",
    max_length=MAX_KEY_LENGTH,
    pattern=KEY_PATTERN,
)
ISSUE_STATUSES = (200, 202, 400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 503)


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _utc(moment: datetime | None, what: str) -> datetime | None:
    """In UTC, and within what every supported database stores; a naive time is left for the window to refuse."""
    if moment is None or moment.tzinfo is None:
        return moment
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{what} is out of range") from None
    if not EARLIEST <= moment <= LATEST:
        raise InvalidInput(f"{what} must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return moment


class CouponRoutes(Controller):
    """Where every coupon operation lives in the API and in its documentation."""

    path = "/api/v1/coupons"
    tags = ["coupons"]  # noqa: RUF012


class CouponController(CouponRoutes):
    @post(
        "/",
        operation_class=documented((201, 400, 401, 413, 415, 500), CreateCouponBody),
        status_code=201,
        security=ADMIN_ONLY,
    )
    async def create(self, request: AnyRequest, services: ServicesDep) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        body = decode(await request.body(), CreateCouponBody)
        window = ValidityWindow(_utc(body.starts_at, "startsAt"), _utc(body.ends_at, "endsAt"))
        coupon = await services.create_coupon.execute(NewCoupon(body.name, body.total_quantity, window))
        return envelope(Code.CREATED, coupon_json(coupon))

    @get("/{coupon_id:str}", operation_class=documented((200, 400, 404, 500)))
    async def read(self, services: ServicesDep, coupon_id: str = CouponIdParam) -> Response[bytes]:
        view = await services.read_coupon.execute(parse_id(coupon_id, "couponId"))
        result = coupon_json(view.coupon) | {
            "remaining": view.remaining,
            "issuedCount": view.issued_count,
            "stockLoaded": view.stock_loaded,
        }
        return envelope(Code.OK, result)

    @delete(
        "/{coupon_id:str}", operation_class=documented((200, 400, 401, 404, 500)), status_code=200, security=ADMIN_ONLY
    )
    async def remove(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        await services.delete_coupon.execute(parse_id(coupon_id, "couponId"))
        return envelope(Code.OK, {"id": int(coupon_id)}, "Coupon deleted")

    @post(
        "/{coupon_id:str}/stock",
        operation_class=documented((200, 400, 401, 404, 409, 413, 415, 500), LoadStockBody, body_required=False),
        status_code=200,
        security=ADMIN_ONLY,
    )
    async def load_stock(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        """No body: load what is left; `quantity`: load that many; `add` / a raised `totalQuantity`: top up
        the total and the loaded stock together (database first, never below what is issued)."""
        require_admin(request, services.settings.admin_token)
        body = decode(await request.body(), LoadStockBody, empty_ok=True)
        coupon = parse_id(coupon_id, "couponId")
        if body.is_top_up:
            if body.quantity is not None:
                raise InvalidInput("quantity loads the stock, add / totalQuantity top it up: send one of them")
            topped = await services.top_up_stock.execute(coupon, add=body.add, total_quantity=body.total_quantity)
            result = {"couponId": topped.coupon_id, "totalQuantity": topped.total_quantity, "added": topped.added}
            return envelope(Code.OK, result | {"stock": topped.stock})
        loaded = await services.load_stock.execute(coupon, body.quantity)
        return envelope(
            Code.OK, {"couponId": loaded.coupon_id, "stock": loaded.stock, "issuedUsers": loaded.issued_users}
        )

    @post(
        "/{coupon_id:str}/issue",
        operation_class=documented(ISSUE_STATUSES, IssueBody, headers=[IDEMPOTENCY_KEY]),
        status_code=200,
        security=ISSUER,
    )
    async def issue(
        self,
        request: AnyRequest,
        services: ServicesDep,
        coupon_id: str = CouponIdParam,
        strategy: str | None = Parameter(default=None, max_length=64),
    ) -> Response[bytes]:
        """Served by the fast route (`issue_route.py`) unless a query string is given; same behaviour."""
        parts = IssueRequest.from_scope(request.scope, coupon_id, await request.body(), strategy)
        return as_response(await answer_issue(services, parts))

    @get(
        "/{coupon_id:str}/issued/{user_id:str}",
        operation_class=documented((200, 400, 401, 403, 404, 500)),
        security=USER_OR_ADMIN,
    )
    async def user_state(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam, user_id: str = UserIdParam
    ) -> Response[bytes]:
        """With user tokens on, only that user (the token's subject) or the admin may read it."""
        coupon, user = parse_id(coupon_id, "couponId"), parse_id(user_id, "userId")
        require_reader(services.settings, request.headers.get("authorization", ""), user)
        state = await services.read_user_issue.execute(coupon, user)
        return envelope(Code.OK, {"couponId": int(coupon_id), "userId": int(user_id), "state": state.value})


__all__ = ["CouponController", "IssueStatus"]
