"""`GET /api/v1/coupons/{id}/issued/{userId}/stream`: a user's result pushed once durable (docs/design.md §10).

Server-Sent Events: the current state at once (`pending`, `issued`, `failed` or `none`);
while pending, then `issued` once the consumer's transaction holding the row committed or
`failed` with the dead-letter reason, and the stream ends. A terminal first state ends it
at once, so `none` is a clear end. No gap: the state is read, the listener registered
(Redis confirmed the channel), and the state read again before waiting. Keep-alive comment
lines hold idle streams open through proxies; after `result_stream_lifetime_seconds` the
stream ends with the state read then (a client still hearing `pending` reconnects).

Everything refused (a bad id, a foreign user's token, a coupon that does not exist) is the
usual JSON envelope, decided before the first byte of the stream.

Why the stream is written from ASGI messages, and served in front of Litestar
(`ResultStreamRoute`, which the issue route's wrapper hands the plain `GET`s): a stream is
idle for nearly all of its life, and one worker holds thousands. Measured with 10,000 idle
streams (bench/idle_streams.py; in process, tracemalloc and the collector's object count),
Litestar's streaming response kept about 22 KB and 140 collector-tracked objects alive per
stream (the request and its middleware frames, an anyio task group with a second task
waiting for the disconnect, the SSE iterator wrappers, a thread-pool hop's exception and
traceback) and armed a timer and an `asyncio.wait` per keep-alive; the collector walking
that heap and the keep-alives' work took the issue path's throughput to 0.63-0.82 of what
it is with no stream open. Here an idle stream is one coroutine asleep on one future of its
own (`_Sleeper`), woken by its result, its client leaving (a done-callback on `receive()`,
no task), or the worker's one timer for keep-alives and lifetimes (`wake_wheel.py`).

The Litestar handler stays: it is the route the OpenAPI document lists, and it serves what
the raw route leaves to it (an id Litestar's validation refuses, a trailing slash, an app
without the wrapper) with the same stream code, as an ASGI app it returns.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from litestar import Controller, get
from litestar.types import ASGIApp

from fcfs.domain.errors import FcfsError
from fcfs.domain.events import DeadLetterReason
from fcfs.domain.issuance import UserIssueState
from fcfs.domain.results import UserResult
from fcfs.entrypoints.http.auth import AnyRequest
from fcfs.entrypoints.http.coupons import CouponIdParam, UserIdParam
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.dto import ID_PATTERN, parse_id
from fcfs.entrypoints.http.errors import domain_answer, unexpected_answer
from fcfs.entrypoints.http.openapi import USER_OR_ADMIN, event_stream_operation
from fcfs.entrypoints.http.request_context import REQUEST_ID, request_id
from fcfs.entrypoints.http.user_token import require_reader
from fcfs.entrypoints.http.wake_wheel import WakeWheel, wake_wheel

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from litestar import Litestar

    from fcfs.bootstrap.container import Services
    from fcfs.entrypoints.http.envelope import Answer
    from fcfs.entrypoints.http.request_context import RequestCounter
    from fcfs.ports.notifications import IssueResults, ResultWaiter

log = structlog.get_logger("fcfs.http")
Scope = Any  # the raw ASGI dicts, as granian hands them over (and as Litestar passes them on)
Receive = Any
Send = Any

SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
)
KEEP_ALIVE = b": keep-alive\r\n\r\n"
WHEEL_SLOTS = 32  # wake-ups per keep-alive interval the wheel tells apart: at most 1/32 of it late
_KEEP_ALIVE_MESSAGE = {"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True}
_END_MESSAGE = {"type": "http.response.body", "body": b"", "more_body": False}
_ANY_ID = f"({ID_PATTERN.strip('^$')})"  # a path id in the form Litestar accepts; any other is left to it
_encoder = msgspec.json.Encoder()


def _result_of(state: UserIssueState) -> UserResult:
    """A state read from the stores; `failed` read there means the database cap is reached."""
    reason = DeadLetterReason.OVER_CAP.value if state is UserIssueState.FAILED else None
    return UserResult(state, reason)


def event(coupon_id: int, user_id: int, result: UserResult) -> bytes:
    """One event block, as `event: <state>` and one `data:` line of compact JSON (which has no line break)."""
    data: dict[str, object] = {"couponId": coupon_id, "userId": user_id, "state": result.state.value}
    if result.reason is not None:
        data["reason"] = result.reason
    if result.committed_at is not None:
        data["committedAt"] = result.committed_at
    return b"event: %s\r\ndata: %s\r\n\r\n" % (result.state.value.encode(), _encoder.encode(data))


def _body(chunk: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


async def open_stream(
    services: Services, authorization: str, raw_coupon: str, raw_user: str
) -> tuple[int, int, UserIssueState]:
    """Everything decided before the first byte: the ids, the reader's right, the coupon's existence
    (404 C001) and the state to send first; each refusal raised as the domain error its envelope says."""
    coupon, user = parse_id(raw_coupon, "couponId"), parse_id(raw_user, "userId")
    require_reader(services.settings, authorization, user)
    return coupon, user, await services.read_user_issue.execute(coupon, user)


class _Sleeper:
    """One open stream's wake-ups. Its result, its client leaving and the wheel each call it;
    it resolves the one future the stream sleeps on, if the stream is asleep."""

    __slots__ = ("_receive", "_receiving", "_wake", "gone")

    def __init__(self, receive: Receive) -> None:
        self._wake: asyncio.Future[None] | None = None
        self._receive = receive
        self._receiving: asyncio.Future[Any] | None = None
        self.gone = False
        self._listen()

    def __call__(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def sleep_until(self, when: float, wheel: WakeWheel) -> None:
        """Until `when` (loop time) or an earlier call; a stream cancelled here leaves nothing in the wheel."""
        wake = self._wake = asyncio.get_running_loop().create_future()
        slot = wheel.add(when, self)
        try:
            await wake
        finally:
            self._wake = None
            wheel.discard(slot, self)

    def _listen(self) -> None:
        """The next ASGI message, by a callback: granian's `receive()` is a future already (no task per
        stream); a server whose `receive()` is a coroutine gets a task, cancelled by `close`."""
        try:
            receiving = asyncio.ensure_future(self._receive())
        except Exception:  # a server that refuses to receive any more: the client is gone
            self._hang_up()
            return
        self._receiving = receiving
        receiving.add_done_callback(self._heard)

    def _heard(self, receiving: asyncio.Future[Any]) -> None:
        if receiving is not self._receiving:
            return  # closed meanwhile
        if (
            receiving.cancelled()
            or receiving.exception() is not None
            or receiving.result()["type"] == "http.disconnect"
        ):
            self._hang_up()
        else:
            self._listen()  # a chunk of the request's (empty) body: listen on

    def _hang_up(self) -> None:
        self._receiving = None
        self.gone = True
        self()

    def close(self) -> None:
        receiving, self._receiving = self._receiving, None
        if isinstance(receiving, asyncio.Task) and not receiving.done():
            receiving.cancel()


@dataclass(frozen=True, slots=True)
class ResultStream:
    """How a worker's streams behave: where the state is read, who announces results, and the two times.

    Keep-alives are `keepalive` apart, from a first one at a random half to all of it: thousands
    of streams opened in the same second must not all write in the same loop turn every interval.
    """

    read: Callable[[int, int], Awaitable[UserIssueState]]  # `ReadUserIssue.execute`
    results: IssueResults | None
    lifetime: float
    keepalive: float

    @classmethod
    def of(cls, services: Services) -> ResultStream:
        settings = services.settings
        return cls(
            services.read_user_issue.execute,
            services.issue_results,
            settings.result_stream_lifetime_seconds,
            settings.result_stream_keepalive_seconds,
        )

    @property
    def resolution(self) -> float:
        """The wake wheel's: keep-alives and the lifetime's end come at most this late."""
        return min(self.keepalive, self.lifetime) / WHEEL_SLOTS

    def app(self, coupon_id: int, user_id: int, first: UserIssueState) -> ASGIApp:
        """The stream as an ASGI app, for the Litestar handler to return."""

        async def respond(_: Scope, receive: Receive, send: Send) -> None:
            await self.serve(send, receive, coupon_id, user_id, first)

        return respond

    async def serve(
        self,
        send: Send,
        receive: Receive,
        coupon_id: int,
        user_id: int,
        first: UserIssueState,
        *headers: tuple[bytes, bytes],
    ) -> None:
        """The whole response, from its first line; nothing is sent once the client is gone."""
        await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
        await send(_body(event(coupon_id, user_id, _result_of(first))))
        if first is UserIssueState.PENDING and self.results is not None:
            sleeper = _Sleeper(receive)
            try:
                await self._until_resolved(send, sleeper, self.results, coupon_id, user_id)
            except FcfsError as error:  # the stores or the subscription failed after the first byte
                log.warning("result_stream_cut_short", coupon_id=coupon_id, user_id=user_id, error=str(error))
            finally:
                sleeper.close()
            if sleeper.gone:
                return
        await send(_END_MESSAGE)

    async def _until_resolved(
        self, send: Send, sleeper: _Sleeper, results: IssueResults, coupon_id: int, user_id: int
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        async with results.subscribe(coupon_id, user_id) as waiter:
            now = await self.read(coupon_id, user_id)
            if now is not UserIssueState.PENDING:
                if not sleeper.gone:
                    await send(_body(event(coupon_id, user_id, _result_of(now))))
                return
            waiter.on_announced(sleeper)
            result = await self._idle(send, sleeper, waiter, deadline)
        if sleeper.gone:
            return
        if result is None:  # the lifetime is over: the state read now
            result = _result_of(await self.read(coupon_id, user_id))
        await send(_body(event(coupon_id, user_id, result)))

    async def _idle(self, send: Send, sleeper: _Sleeper, waiter: ResultWaiter, deadline: float) -> UserResult | None:
        """Keep-alives until the result (returned), the client leaving or the lifetime's end (None)."""
        loop = asyncio.get_running_loop()
        wheel = wake_wheel(self.resolution)
        beat = loop.time() + self.keepalive * random.uniform(0.5, 1.0)  # noqa: S311  (timing, not security)
        while (result := waiter.announced()) is None and not sleeper.gone:
            now = loop.time()
            if now >= deadline:
                return None
            if now >= beat:
                await send(_KEEP_ALIVE_MESSAGE)
                beat = beat + self.keepalive if beat + self.keepalive > now else now + self.keepalive
            else:
                await sleeper.sleep_until(min(beat, deadline), wheel)
        return result


def stream_route_of(app: Litestar) -> tuple[re.Pattern[str], str]:
    """The path pattern (ids in the form Litestar accepts, the rest left to its validation) and the
    metric label of the route `ResultStreamController.stream` is mounted on."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if getattr(handler.fn, "__func__", handler.fn) is ResultStreamController.stream.fn:
                pattern = re.sub(r"\\\{\w+:str\\\}", lambda _: _ANY_ID, re.escape(route.path))
                return re.compile(pattern), route.path_format
    raise LookupError("the app has no ResultStreamController.stream route")


class ResultStreamRoute:
    """A plain `GET` of the stream route, served from the ASGI messages (see the module docstring).

    It keeps what the Litestar route promises: the same checks and envelopes (`open_stream`,
    `domain_answer`), the request id on the response and in logs, `fcfs_http_requests_total`.
    """

    def __init__(self, app: Litestar, counter: RequestCounter) -> None:
        self._state = app.state
        self._counter = counter
        self._path, self._label = stream_route_of(app)
        self._streams: tuple[Services, ResultStream] | None = None

    def listener_of(self, scope: Scope | dict[str, Any]) -> tuple[str, str] | None:
        """The raw coupon and user segments when this route takes the request; None leaves it to Litestar
        (so does a request before the lifespan opened the services)."""
        if scope["type"] != "http" or scope.get("method") != "GET":
            return None
        found = self._path.fullmatch(scope["path"])
        if found is None or "services" not in self._state:
            return None
        return found.group(1), found.group(2)

    async def serve(self, scope: Scope, receive: Receive, send: Send, raw_coupon: str, raw_user: str) -> None:
        services: Services = self._state["services"]
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        try:
            try:
                opened = await open_stream(services, _authorization(scope["headers"]), raw_coupon, raw_user)
            except FcfsError as error:
                answered = domain_answer(error)
            except Exception as error:  # every failure before the stream is an envelope, as on every route
                answered = unexpected_answer(error)
            else:
                self._counter.count("GET", self._label, 200)
                await self._stream_of(services).serve(send, receive, *opened, (b"x-request-id", rid.encode()))
                return
            await self._refuse(send, answered, rid)
        finally:
            REQUEST_ID.reset(token)

    def _stream_of(self, services: Services) -> ResultStream:
        if self._streams is None or self._streams[0] is not services:
            self._streams = (services, ResultStream.of(services))
        return self._streams[1]

    async def _refuse(self, send: Send, answered: Answer, rid: str) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answered.body)),
            (b"x-request-id", rid.encode()),
        ]
        if answered.headers:
            headers += [
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answered.headers.items()
            ]
        self._counter.count("GET", self._label, answered.status)
        await send({"type": "http.response.start", "status": answered.status, "headers": headers})
        await send({"type": "http.response.body", "body": answered.body})


def _authorization(headers: Any) -> str:
    for name, value in headers:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return ""


STREAM_OPERATION = event_stream_operation(
    "Server-Sent Events: `pending` | `issued` | `failed` | `none`, each with JSON data "
    "`{couponId, userId, state, reason?, committedAt?}`; the stream ends after a terminal state",
    (400, 401, 403, 404, 500),
)


class ResultStreamController(Controller):
    path = "/api/v1/coupons"
    tags = ["coupons"]  # noqa: RUF012

    @get(
        "/{coupon_id:str}/issued/{user_id:str}/stream",
        operation_class=STREAM_OPERATION,
        security=USER_OR_ADMIN,
    )
    async def stream(
        self, request: AnyRequest, services: ServicesDep, coupon_id: str = CouponIdParam, user_id: str = UserIdParam
    ) -> ASGIApp:
        """With user tokens on, only that user (the token's subject) or the admin may listen."""
        coupon, user, first = await open_stream(services, request.headers.get("authorization", ""), coupon_id, user_id)
        return ResultStream.of(services).app(coupon, user, first)
