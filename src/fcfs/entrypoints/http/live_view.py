"""`GET /api/v1/coupons/{id}/live`: the live view as Server-Sent Events, one snapshot a second (docs/design.md).

Admin only. Every snapshot is read from shared state (`ReadLiveView`), at the start of each
whole second of Unix time (plus `TICK_DELAY_SECONDS`, so every instance has written the
answers of the second just over): two instances stream the same figures for the same
`second`, which is in each event. A tick whose stores do not answer is an `unavailable`
event and the stream goes on; a coupon deleted meanwhile is a `gone` event and the end.
After `LIVE_LIFETIME_SECONDS` the stream ends (the console reconnects).

A refusal (no admin token, a bad id, no such coupon) is the JSON envelope, decided before
the first byte of the stream.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from litestar import get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from fcfs.domain.errors import CouponNotFound, FcfsError, TemporaryFailure
from fcfs.entrypoints.http.auth import AnyRequest, require_admin
from fcfs.entrypoints.http.coupons import CouponIdParam, CouponRoutes
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import parse_id
from fcfs.entrypoints.http.openapi import ADMIN_ONLY, event_stream_operation

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from fcfs.domain.live_view import LiveSnapshot
    from fcfs.domain.use_cases import ReadLiveView

TICK_DELAY_SECONDS = 0.2
LIVE_LIFETIME_SECONDS = 3600.0
_encoder = msgspec.json.Encoder()


def snapshot_json(snapshot: LiveSnapshot) -> dict[str, object]:
    return {
        "couponId": snapshot.coupon_id,
        "second": snapshot.second,
        "state": snapshot.state.value,
        "paused": snapshot.paused,
        "closed": snapshot.closed,
        "totalQuantity": snapshot.total_quantity,
        "remaining": snapshot.remaining,
        "accepted": snapshot.accepted,
        "persisted": snapshot.persisted,
        "pending": snapshot.pending,
        "answers": dict(snapshot.answers),
        "lag": snapshot.lag,
    }


def _message(event: str, data: dict[str, object]) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=_encoder.encode(data).decode(), event=event)


@dataclass(frozen=True, slots=True)
class LiveStream:
    """One console's events; each tick is read afresh, so what it shows is never one process's view."""

    read: ReadLiveView
    lifetime: float = LIVE_LIFETIME_SECONDS
    clock: Callable[[], float] = time.time

    async def events(self, coupon_id: int, first: LiveSnapshot) -> AsyncIterator[ServerSentEventMessage]:
        yield _message("snapshot", snapshot_json(first))
        second, ends = first.second, self.clock() + self.lifetime
        while (second := second + 1) < ends:
            await asyncio.sleep(max(second + TICK_DELAY_SECONDS - self.clock(), 0.0))
            try:
                snapshot = await self.read.execute(coupon_id, max(second, int(self.clock())))
            except CouponNotFound as error:
                yield _message("gone", {"code": error.code.code, "message": str(error)})
                return
            except FcfsError as error:
                yield _message("unavailable", {"code": error.code.code, "message": str(error)})
                continue
            second = snapshot.second
            yield _message("snapshot", snapshot_json(snapshot))


LIVE_OPERATION = event_stream_operation(
    "Server-Sent Events, one `snapshot` a second with JSON data `{couponId, second, state, paused, "
    "closed, totalQuantity, remaining, accepted, persisted, pending, answers: {code: count in the second "
    "before}, lag}`; `unavailable` when a store did not answer that second; `gone` (then the end) when the "
    "coupon was deleted",
    (400, 401, 404, 500),
)


class LiveViewController(CouponRoutes):
    @get("/{coupon_id:str}/live", operation_class=LIVE_OPERATION, security=ADMIN_ONLY)
    async def live(self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam) -> ServerSentEvent:
        """Remaining stock, accepted, persisted, pending, answers by code, consumer lag and state, every second,
        the same on every instance."""
        require_admin(request, services.settings.admin_token)
        coupon = parse_id(coupon_id, "couponId")
        if services.live_view is None:
            raise TemporaryFailure("the live view is not configured")
        first = await services.live_view.execute(coupon, int(time.time()))  # 404 C001 here, as an envelope
        return ServerSentEvent(LiveStream(services.live_view, LIVE_LIFETIME_SECONDS).events(coupon, first))
