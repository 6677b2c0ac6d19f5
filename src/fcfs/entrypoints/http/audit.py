"""`GET /api/v1/coupons/{couponId}/audit` (admin): the coupon's audit trail, newest first.

Paging is by cursor: `?limit=` (1 … 100, default 20) entries with ids below `?before=`
(absent: from the newest). The answer's `nextBefore` is the `before` of the next, older
page, null on the last one. A malformed or out-of-range `limit` or `before` is 400 G002.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Controller, Response, get
from litestar.params import Parameter

from fcfs.domain.audit import DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE
from fcfs.domain.errors import Code, InvalidInput
from fcfs.entrypoints.http.auth import AnyRequest, require_admin
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import ID_PATTERN, parse_id
from fcfs.entrypoints.http.envelope import envelope
from fcfs.entrypoints.http.openapi import ADMIN_ONLY, documented

if TYPE_CHECKING:
    from fcfs.domain.audit import AuditEntry, AuditPage

LIMIT_PATTERN = r"^[0-9]{1,3}$"


class AuditController(Controller):
    path = "/api/v1/coupons"
    tags = ["audit"]  # noqa: RUF012

    @get("/{coupon_id:str}/audit", operation_class=documented((200, 400, 401, 404, 500)), security=ADMIN_ONLY)
    async def audit(
        self,
        request: AnyRequest,
        services: ServicesDep,
        coupon_id: str = Parameter(pattern=ID_PATTERN, description="Coupon id, 1 … 2^63−1"),
        limit: str | None = Parameter(
            default=None,
            pattern=LIMIT_PATTERN,
            description=f"Entries per page, 1 … {MAX_AUDIT_PAGE} (default {DEFAULT_AUDIT_PAGE})",
        ),
        before: str | None = Parameter(
            default=None, pattern=ID_PATTERN, description="Only entries older than this id: the previous nextBefore"
        ),
    ) -> Response[bytes]:
        require_admin(request, services.settings.admin_token)
        page = await services.read_audit_trail.execute(
            parse_id(coupon_id, "couponId"),
            _limit(limit),
            None if before is None else parse_id(before, "before"),
        )
        return envelope(Code.OK, page_json(page))


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_AUDIT_PAGE
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_AUDIT_PAGE:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}")
    return int(raw)


def page_json(page: AuditPage) -> dict[str, Any]:
    return {
        "couponId": page.coupon_id,
        "entries": [entry_json(entry) for entry in page.entries],
        "nextBefore": page.next_before,
    }


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "action": entry.action.value,
        "couponId": entry.coupon_id,
        "parameters": dict(entry.parameters),
        "outcome": entry.outcome,
        "requestId": entry.request_id,
        "clientAddress": entry.client_address,
        "actor": entry.actor,
        "at": entry.at.isoformat(),
    }
