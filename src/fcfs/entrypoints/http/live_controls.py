"""The live controls of a running event (docs/design.md, operating a live event): pause, resume, close.

Admin only. Each answers once the state is in the database and mirrored into the gate, so
the answer itself is the guarantee: no instance admits anyone for a paused coupon after it.
Top-up is `POST .../stock` with `{"add": n}` (`coupons.py`), beside loading the stock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Response, post

from fcfs.domain.errors import Code
from fcfs.entrypoints.http.auth import AnyRequest, require_admin
from fcfs.entrypoints.http.coupons import CouponIdParam, CouponRoutes
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import parse_id
from fcfs.entrypoints.http.envelope import envelope
from fcfs.entrypoints.http.openapi import ADMIN_ONLY, documented

if TYPE_CHECKING:
    from fcfs.domain.use_cases import StateChanged
    from fcfs.ports.use_cases import ChangesCouponState

CONTROL_STATUSES = (200, 400, 401, 404, 409, 500)


async def _change(
    request: AnyRequest, services: ServicesDep, coupon_id: str, use_case: ChangesCouponState[StateChanged]
) -> Response[bytes]:
    require_admin(request, services.settings.admin_token)
    changed = await use_case.execute(parse_id(coupon_id, "couponId"))
    return envelope(Code.OK, {"couponId": changed.coupon_id, "state": changed.state.value})


class LiveControlsController(CouponRoutes):
    @post("/{coupon_id:str}/pause", operation_class=documented(CONTROL_STATUSES), status_code=200, security=ADMIN_ONLY)
    async def pause(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        """Every later issue attempt, on every instance, answers 409 C009 and consumes nothing (C005 if closed)."""
        return await _change(request, services, coupon_id, services.pause_issuance)

    @post("/{coupon_id:str}/resume", operation_class=documented(CONTROL_STATUSES), status_code=200, security=ADMIN_ONLY)
    async def resume(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        """Issue attempts are decided by stock and users again; a closed coupon stays closed (409 C005)."""
        return await _change(request, services, coupon_id, services.resume_issuance)

    @post("/{coupon_id:str}/close", operation_class=documented(CONTROL_STATUSES), status_code=200, security=ADMIN_ONLY)
    async def close(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam
    ) -> Response[bytes]:
        """Ends the window now: every later attempt answers 409 C005; accepted events are still persisted."""
        return await _change(request, services, coupon_id, services.close_issuance)
