"""Coupon endpoints (DESIGN.md §3). Each handler: parse → command → use case → envelope."""

from __future__ import annotations

from datetime import UTC

from litestar import Controller, Response, delete, get, post
from litestar.params import Parameter

from fcfs.domain.coupon import NewCoupon, ValidityWindow
from fcfs.domain.errors import Code, Forbidden
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus
from fcfs.entrypoints.http.auth import AnyRequest, is_admin, require_admin
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import (
    ID_PATTERN,
    CreateCouponBody,
    IssueBody,
    LoadStockBody,
    coupon_json,
    decode,
    operation_with_body,
    parse_id,
)
from fcfs.entrypoints.http.envelope import envelope

CouponIdParam = Parameter(pattern=ID_PATTERN, description="Coupon id, 1 … 2^63−1")
UserIdParam = Parameter(pattern=ID_PATTERN, description="User id, 1 … 2^63−1")


def _utc(moment: object) -> object:
    from datetime import datetime

    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment


def outcome_json(outcome: IssueOutcome) -> dict[str, object]:
    return {
        "couponId": outcome.coupon_id,
        "userId": outcome.user_id,
        "status": outcome.status.value,
        "issuedId": outcome.issued_id,
        "eventId": outcome.event_id,
    }


class CouponController(Controller):
    path = "/api/v1/coupons"
    tags = ["coupons"]  # noqa: RUF012

    @post("/", operation_class=operation_with_body(CreateCouponBody), status_code=201)
    async def create(self, request: AnyRequest, services: ServicesDep) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        body = decode(await request.body(), CreateCouponBody)
        window = ValidityWindow(_utc(body.starts_at), _utc(body.ends_at))  # type: ignore[arg-type]
        coupon = await services.create_coupon.execute(NewCoupon(body.name, body.total_quantity, window))
        return envelope(Code.CREATED, coupon_json(coupon))

    @get("/{coupon_id:str}")
    async def read(self, services: ServicesDep, coupon_id: str = CouponIdParam) -> Response[bytes]:
        view = await services.read_coupon.execute(parse_id(coupon_id, "couponId"))
        result = coupon_json(view.coupon) | {
            "remaining": view.remaining,
            "issuedCount": view.issued_count,
            "stockLoaded": view.stock_loaded,
        }
        return envelope(Code.OK, result)

    @delete("/{coupon_id:str}", status_code=200)
    async def remove(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        await services.delete_coupon.execute(parse_id(coupon_id, "couponId"))
        return envelope(Code.OK, {"id": int(coupon_id)}, "Coupon deleted")

    @post("/{coupon_id:str}/stock", operation_class=operation_with_body(LoadStockBody, required=False), status_code=200)
    async def load_stock(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        body = decode(await request.body(), LoadStockBody, empty_ok=True)
        loaded = await services.load_stock.execute(parse_id(coupon_id, "couponId"), body.quantity)
        return envelope(
            Code.OK, {"couponId": loaded.coupon_id, "stock": loaded.stock, "issuedUsers": loaded.issued_users}
        )

    @post("/{coupon_id:str}/issue", operation_class=operation_with_body(IssueBody), status_code=200)
    async def issue(
        self,
        request: AnyRequest,
        services: ServicesDep,
        coupon_id: str = CouponIdParam,
        strategy: str | None = Parameter(default=None, max_length=64),
    ) -> Response[bytes]:
        command_coupon = parse_id(coupon_id, "couponId")
        if strategy is not None and not is_admin(request, services.settings.admin_token):
            raise Forbidden("choosing a strategy per request needs the admin token")
        body = decode(await request.body(), IssueBody)
        outcome = await services.issue_coupon.execute(IssueCommand(command_coupon, body.user_id), strategy)
        return envelope(outcome.status.code, outcome_json(outcome))

    @get("/{coupon_id:str}/issued/{user_id:str}")
    async def user_state(
        self, services: ServicesDep, coupon_id: str = CouponIdParam, user_id: str = UserIdParam
    ) -> Response[bytes]:
        state = await services.read_user_issue.execute(parse_id(coupon_id, "couponId"), parse_id(user_id, "userId"))
        return envelope(Code.OK, {"couponId": int(coupon_id), "userId": int(user_id), "state": state.value})


__all__ = ["CouponController", "IssueStatus"]
