"""Results pushed over SSE (docs/design.md §10), on the in-memory twins: the events, the refusals, the fan-out's bookkeeping."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from litestar import Litestar

from fcfs.adapters.memory.results import MemoryIssueResults
from fcfs.bootstrap.announcing_writer import AnnouncingBatchWriter, announced_writer
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import PersistResult, UserIssueState
from fcfs.domain.results import CouponResults, NotificationFailed, results_by_coupon
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.result_stream import ResultStream, ResultStreamRoute, stream_route_of
from fcfs.entrypoints.http.wake_wheel import wake_wheel
from fcfs.ports.notifications import IssueNotifier
from fcfs.ports.repositories import IssuedBatchWriter
from tests.support.http_client import assert_envelope, concurrent_client, make_coupon
from tests.support.sse import parse_events

SECRET = "s" * 64


def issued(coupon_id: int, user_id: int) -> CouponIssued:
    return CouponIssued(str(uuid.uuid4()), coupon_id, user_id, datetime.now(UTC))


def stream_url(coupon_id: int, user_id: int) -> str:
    return f"/api/v1/coupons/{coupon_id}/issued/{user_id}/stream"


async def until(check: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


ServedApp = Any  # `IssueRoute` in front of Litestar, or Litestar alone


@pytest.fixture(params=["stream-route", "litestar-handler"])
def stream_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every endpoint test runs on both ways in: the raw route granian's requests take, and the
    documented Litestar handler (what the raw route leaves to it)."""
    if request.param == "litestar-handler":
        monkeypatch.setattr(ResultStreamRoute, "listener_of", lambda self, scope: None)
    return str(request.param)


def served(settings: Settings) -> ServedApp:
    return create_app(settings, services=open_memory_services(settings))


def services_of(app: ServedApp) -> Any:
    return (app if isinstance(app, Litestar) else app.app).state.services


@pytest.fixture
def app(stream_paths: str) -> ServedApp:
    return served(Settings(strategy="lua-async", result_stream_lifetime_seconds=30.0))


# The decision: what a committed batch says, per coupon and per user.


def test_a_batch_announces_persisted_and_refused_users_per_coupon_with_the_reason() -> None:
    events = [issued(1, 10), issued(1, 11), issued(2, 20), issued(1, 12), issued(3, 30)]
    result = PersistResult(
        inserted=(events[0].event_id, events[2].event_id),
        duplicates=(events[1].event_id,),
        over_cap=(events[3].event_id,),
        unknown_coupon=(events[4].event_id,),
    )

    first, second, third = results_by_coupon(events, result, committed_at=5.0)

    assert (first.coupon_id, first.persisted, dict(first.refused)) == (1, {10, 11}, {12: "over_cap"})
    assert (second.coupon_id, second.persisted, dict(second.refused)) == (2, {20}, {})
    assert (third.coupon_id, third.persisted, dict(third.refused)) == (3, frozenset(), {30: "unknown_coupon"})
    assert first.for_user(11) is not None and first.for_user(11).state is UserIssueState.ISSUED  # type: ignore[union-attr]
    assert first.for_user(12).reason == "over_cap"  # type: ignore[union-attr]
    assert first.for_user(99) is None


# The consumer's hook: announce after the commit, never fail persistence.


class _Writer(IssuedBatchWriter):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def persist_capped(self, events: Sequence[CouponIssued]) -> PersistResult:
        self.log.append("committed")
        return PersistResult(inserted=tuple(event.event_id for event in events))


class _Notifier(IssueNotifier):
    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log, self.fail = log, fail
        self.sent: list[CouponResults] = []

    async def publish(self, results: CouponResults) -> None:
        self.log.append(f"announced {results.coupon_id}")
        if self.fail:
            raise NotificationFailed("redis is away")
        self.sent.append(results)


async def test_results_are_announced_once_per_coupon_after_the_commit() -> None:
    log: list[str] = []
    notifier = _Notifier(log)
    writer = AnnouncingBatchWriter(_Writer(log), notifier, clock=lambda: 7.0)

    await writer.persist_capped([issued(1, 10), issued(2, 20), issued(1, 11)])
    await writer.drain()

    assert log == ["committed", "announced 1", "announced 2"]
    assert [(sent.coupon_id, sent.persisted, sent.committed_at) for sent in notifier.sent] == [
        (1, {10, 11}, 7.0),
        (2, {20}, 7.0),
    ]


async def test_an_announcement_that_fails_leaves_the_persisted_batch_as_it_is() -> None:
    log: list[str] = []
    writer = AnnouncingBatchWriter(_Writer(log), _Notifier(log, fail=True))

    result = await writer.persist_capped([issued(1, 10)])
    await writer.drain()

    assert len(result.inserted) == 1
    assert log == ["committed", "announced 1"]


def test_without_a_notifier_the_writer_is_left_undecorated() -> None:
    inner = _Writer([])
    assert announced_writer(inner, None) is inner


# The endpoint.


async def test_a_user_with_nothing_hears_none_and_the_stream_ends(app: ServedApp) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        response = await client.get(stream_url(coupon_id, 5))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [(event.event, event.data["state"]) for event in parse_events(response.text).events] == [("none", "none")]


async def test_a_stream_for_a_coupon_that_does_not_exist_is_a_404_envelope(app: ServedApp) -> None:
    async with concurrent_client(app) as client:
        response = await client.get(stream_url(987654, 5))

    assert_envelope(response, 404, "C001")
    assert response.headers["content-type"].startswith("application/json")


async def test_a_pending_user_hears_pending_at_once_then_issued_when_announced(app: ServedApp) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5})).status_code == 202
        hub = services_of(app).issue_results
        listening = asyncio.create_task(client.get(stream_url(coupon_id, 5)))
        await until(lambda: hub.listeners == 1)

        await hub.publish(CouponResults(coupon_id, frozenset({5}), {}, committed_at=time.time()))
        response = await listening

    events = parse_events(response.text).events
    assert [event.event for event in events] == ["pending", "issued"]
    assert events[1].data["userId"] == 5
    assert "committedAt" in events[1].data
    assert hub.subscriptions == 0
    assert hub.listeners == 0


async def test_a_refused_user_hears_failed_with_the_dead_letter_reason(app: ServedApp) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 6})).status_code == 202
        hub = services_of(app).issue_results
        listening = asyncio.create_task(client.get(stream_url(coupon_id, 6)))
        await until(lambda: hub.listeners == 1)

        await hub.publish(CouponResults(coupon_id, frozenset({7}), {6: "over_cap"}, committed_at=time.time()))
        response = await listening

    events = parse_events(response.text).events
    assert [(event.event, event.data.get("reason")) for event in events] == [("pending", None), ("failed", "over_cap")]


async def test_an_idle_stream_sends_keep_alive_comments_and_ends_after_its_lifetime(stream_paths: str) -> None:
    settings = Settings(strategy="lua-async", result_stream_lifetime_seconds=0.35, result_stream_keepalive_seconds=0.1)
    app = served(settings)
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5})
        hub = services_of(app).issue_results
        response = await client.get(stream_url(coupon_id, 5))

    parsed = parse_events(response.text)
    assert [event.event for event in parsed.events] == ["pending", "pending"]  # the last: the state read at the end
    assert parsed.comments.count("keep-alive") >= 2
    assert hub.subscriptions == 0


async def test_with_user_tokens_only_the_tokens_subject_may_listen(stream_paths: str) -> None:
    settings = Settings(strategy="lua-async", user_token_secret=SECRET, admin_token="admin-token")
    app = served(settings)
    other = jwt.encode({"sub": "8", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    own = jwt.encode({"sub": "5", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    async with concurrent_client(app) as client:
        created = await client.post(
            "/api/v1/coupons", json={"name": "c", "totalQuantity": 2}, headers={"Authorization": "Bearer admin-token"}
        )
        coupon_id = int(created.json()["result"]["id"])

        assert_envelope(await client.get(stream_url(coupon_id, 5)), 401, "A001")
        assert_envelope(
            await client.get(stream_url(coupon_id, 5), headers={"Authorization": f"Bearer {other}"}), 403, "A002"
        )
        allowed = await client.get(stream_url(coupon_id, 5), headers={"Authorization": f"Bearer {own}"})

    assert allowed.status_code == 200
    assert [event.event for event in parse_events(allowed.text).events] == ["none"]


async def test_a_stream_carries_the_event_stream_headers_and_the_request_id(app: ServedApp) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        response = await client.get(stream_url(coupon_id, 5), headers={"X-Request-ID": "trace-1"})
        refused = await client.get(stream_url(coupon_id + 1, 5), headers={"X-Request-ID": "trace-2"})

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert (response.headers["cache-control"], response.headers["x-accel-buffering"]) == ("no-cache", "no")
    assert response.headers["x-request-id"] == "trace-1"
    assert response.text == f'event: none\r\ndata: {{"couponId":{coupon_id},"userId":5,"state":"none"}}\r\n\r\n'
    assert_envelope(refused, 404, "C001")
    assert refused.headers["x-request-id"] == "trace-2"


@pytest.mark.parametrize(("coupon", "user"), [("abc", "5"), ("1", "0"), ("1", "9223372036854775808")])
async def test_a_malformed_id_is_a_400_envelope_on_either_way_in(app: ServedApp, coupon: str, user: str) -> None:
    async with concurrent_client(app) as client:
        response = await client.get(f"/api/v1/coupons/{coupon}/issued/{user}/stream")

    assert_envelope(response, 400, "G002")


async def test_the_stream_route_is_the_one_the_litestar_handler_declares() -> None:
    app = served(Settings(strategy="lua-async"))
    pattern, label = stream_route_of(app.app)

    assert label == "/api/v1/coupons/{coupon_id}/issued/{user_id}/stream"
    assert pattern.fullmatch("/api/v1/coupons/42/issued/7/stream") is not None
    assert pattern.fullmatch("/api/v1/coupons/042/issued/7/stream") is None  # left to Litestar's validation
    assert pattern.fullmatch("/api/v1/coupons/42/issued/7/stream/") is None


# Served from the ASGI messages: what a client leaving, a result racing the subscription and a
# failed subscription do to one stream (granian's `receive()` is a future; so is this one's).


class _Exchange:
    """One stream's ASGI side: `receive()` futures the test resolves, and every message sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.receiving: list[asyncio.Future[dict[str, Any]]] = []
        self.heard = asyncio.Event()

    def receive(self) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if not self.receiving:
            future.set_result({"type": "http.request", "body": b"", "more_body": False})
        self.receiving.append(future)
        return future

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.heard.set()

    def leave(self) -> None:
        self.receiving[-1].set_result({"type": "http.disconnect"})

    @property
    def body(self) -> str:
        return b"".join(message.get("body", b"") for message in self.sent[1:]).decode()

    @property
    def ended(self) -> bool:
        return bool(self.sent) and self.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def _stream(hub: Any, states: list[UserIssueState], lifetime: float = 30.0, keepalive: float = 10.0) -> ResultStream:
    """A stream whose reads answer `states` in turn (the last one from then on)."""

    async def read(coupon_id: int, user_id: int) -> UserIssueState:
        return states.pop(0) if len(states) > 1 else states[0]

    return ResultStream(read, hub, lifetime=lifetime, keepalive=keepalive)


async def test_a_client_that_leaves_an_idle_stream_frees_its_listener_and_hears_nothing_more() -> None:
    hub = MemoryIssueResults()
    exchange = _Exchange()
    serving = asyncio.create_task(
        _stream(hub, [UserIssueState.PENDING]).serve(exchange.send, exchange.receive, 1, 5, UserIssueState.PENDING)
    )
    await until(lambda: hub.listeners == 1)
    sent = len(exchange.sent)

    exchange.leave()
    await asyncio.wait_for(serving, 5)

    assert (hub.subscriptions, hub.listeners) == (0, 0)
    assert len(exchange.sent) == sent  # no end of body written to a client that is gone
    assert [event.event for event in parse_events(exchange.body).events] == ["pending"]


async def test_a_result_announced_between_the_first_read_and_the_subscription_is_read_again() -> None:
    hub = MemoryIssueResults()
    exchange = _Exchange()
    stream = _stream(hub, [UserIssueState.ISSUED])  # issued by the time the listener is registered

    await asyncio.wait_for(stream.serve(exchange.send, exchange.receive, 1, 5, UserIssueState.PENDING), 5)

    assert [event.event for event in parse_events(exchange.body).events] == ["pending", "issued"]
    assert exchange.ended
    assert hub.listeners == 0


async def test_a_result_announced_while_a_keep_alive_is_written_is_not_lost() -> None:
    hub = MemoryIssueResults()
    exchange = _Exchange()
    announced = False

    async def slow_send(message: dict[str, Any]) -> None:
        nonlocal announced
        await exchange.send(message)
        if message.get("body") == b": keep-alive\r\n\r\n" and not announced:
            announced = True  # the result arrives while the stream is not asleep
            await hub.publish(CouponResults(1, frozenset({5}), {}, committed_at=3.0))

    stream = _stream(hub, [UserIssueState.PENDING], keepalive=0.02)
    await asyncio.wait_for(stream.serve(slow_send, exchange.receive, 1, 5, UserIssueState.PENDING), 5)

    assert [event.event for event in parse_events(exchange.body).events] == ["pending", "issued"]
    assert exchange.ended


async def test_a_subscription_that_fails_ends_the_stream_after_the_first_state() -> None:
    class Refusing:
        def subscribe(self, coupon_id: int, user_id: int) -> Any:
            raise NotificationFailed("redis is away")

    exchange = _Exchange()
    stream = _stream(Refusing(), [UserIssueState.PENDING])

    await asyncio.wait_for(stream.serve(exchange.send, exchange.receive, 1, 5, UserIssueState.PENDING), 5)

    assert [event.event for event in parse_events(exchange.body).events] == ["pending"]
    assert exchange.ended  # a clean end: the client reconnects, as after the lifetime


async def test_a_stream_cancelled_while_idle_leaves_no_listener_and_no_wake_up() -> None:
    hub = MemoryIssueResults()
    exchange = _Exchange()
    stream = _stream(hub, [UserIssueState.PENDING], keepalive=60.0)
    serving = asyncio.create_task(stream.serve(exchange.send, exchange.receive, 1, 5, UserIssueState.PENDING))
    await until(lambda: hub.listeners == 1)

    serving.cancel()  # what the server does to its requests when it shuts down
    with pytest.raises(asyncio.CancelledError):
        await serving

    assert (hub.subscriptions, hub.listeners) == (0, 0)
    assert wake_wheel(stream.resolution).sleepers == 0
