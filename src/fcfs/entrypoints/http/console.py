"""`GET /console/coupons/{id}`: the live event console, one page that needs no internet (docs/design.md, the live view).

Its HTML, script and style ship in the wheel (`static/console/`) and are served from
`/console/static/`; the Content-Security-Policy allows nothing but this origin, so the page
cannot reach a CDN even by mistake. The page itself is not secret and needs no token: it
reads `…/live` and calls the admin controls with the admin token the operator types into it,
sent as an `Authorization` header (never in a URL).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from fcfs.entrypoints.http.coupons import CouponIdParam
from fcfs.entrypoints.http.dto import parse_id

ASSETS = Path(__file__).parent / "static" / "console"
CONSOLE_PATH = "/console"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def console_url(base_url: str, coupon_id: int) -> str:
    return f"{base_url.rstrip('/')}{CONSOLE_PATH}/coupons/{coupon_id}"


@cache
def _page() -> bytes:
    return (ASSETS / "console.html").read_bytes()


@get("/coupons/{coupon_id:str}", include_in_schema=False, sync_to_thread=False)
def console_page(coupon_id: str = CouponIdParam) -> Response[bytes]:
    parse_id(coupon_id, "couponId")  # a malformed id is the usual 400 envelope; an unknown one shows on the page
    return Response(
        _page(),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def console_router() -> Router:
    """The page and its assets under `/console`."""
    assets = create_static_files_router(
        "/static",
        directories=[ASSETS],
        name="console_assets",
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=300, public=True),
    )
    return Router(CONSOLE_PATH, route_handlers=[console_page, assets])
