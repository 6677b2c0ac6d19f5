"""Results pushed over SSE (docs/design.md §10), on the in-memory twins: the events, the refusals, the fan-out's bookkeeping."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import jwt
import pytest
from litestar import Litestar

from fcfs.bootstrap.announcing_writer import AnnouncingBatchWriter, announced_writer
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import PersistResult, UserIssueState
from fcfs.domain.results import CouponResults, NotificationFailed, results_by_coupon
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.result_stream import ResultStream
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


@pytest.fixture
def app() -> Litestar:
    settings = Settings(strategy="lua-async", result_stream_lifetime_seconds=30.0)
    app = create_app(settings, services=open_memory_services(settings), fast_issue=False)
    assert isinstance(app, Litestar)
    return app


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


async def test_a_user_with_nothing_hears_none_and_the_stream_ends(app: Litestar) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        response = await client.get(stream_url(coupon_id, 5))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [(event.event, event.data["state"]) for event in parse_events(response.text).events] == [("none", "none")]


async def test_a_stream_for_a_coupon_that_does_not_exist_is_a_404_envelope(app: Litestar) -> None:
    async with concurrent_client(app) as client:
        response = await client.get(stream_url(987654, 5))

    assert_envelope(response, 404, "C001")
    assert response.headers["content-type"].startswith("application/json")


async def test_a_pending_user_hears_pending_at_once_then_issued_when_announced(app: Litestar) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5})).status_code == 202
        hub = app.state.services.issue_results
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


async def test_a_refused_user_hears_failed_with_the_dead_letter_reason(app: Litestar) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 6})).status_code == 202
        hub = app.state.services.issue_results
        listening = asyncio.create_task(client.get(stream_url(coupon_id, 6)))
        await until(lambda: hub.listeners == 1)

        await hub.publish(CouponResults(coupon_id, frozenset({7}), {6: "over_cap"}, committed_at=time.time()))
        response = await listening

    events = parse_events(response.text).events
    assert [(event.event, event.data.get("reason")) for event in events] == [("pending", None), ("failed", "over_cap")]


async def test_an_idle_stream_sends_keep_alive_comments_and_ends_after_its_lifetime() -> None:
    settings = Settings(strategy="lua-async", result_stream_lifetime_seconds=0.35, result_stream_keepalive_seconds=0.1)
    app = create_app(settings, services=open_memory_services(settings), fast_issue=False)
    assert isinstance(app, Litestar)
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5})
        hub = app.state.services.issue_results
        response = await client.get(stream_url(coupon_id, 5))

    parsed = parse_events(response.text)
    assert [event.event for event in parsed.events] == ["pending", "pending"]  # the last: the state read at the end
    assert parsed.comments.count("keep-alive") >= 2
    assert hub.subscriptions == 0


async def test_with_user_tokens_only_the_tokens_subject_may_listen() -> None:
    settings = Settings(strategy="lua-async", user_token_secret=SECRET, admin_token="admin-token")
    app = create_app(settings, services=open_memory_services(settings), fast_issue=False)
    assert isinstance(app, Litestar)
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


# The fan-out's bookkeeping: a listener that goes away leaves nothing behind.


async def test_a_listener_that_disconnects_leaves_no_subscription(app: Litestar) -> None:
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 5})
        services = app.state.services
        hub = services.issue_results
        stream = ResultStream(services.read_user_issue, hub, lifetime=30.0, keepalive=10.0)
        events: AsyncIterator[object] = stream.events(coupon_id, 5, UserIssueState.PENDING)

        await anext(events)  # pending, at once
        waiting = asyncio.create_task(anext(events))
        await until(lambda: hub.subscriptions == 1)
        waiting.cancel()  # what the server does when the client goes away
        with pytest.raises(asyncio.CancelledError):
            await waiting

    assert hub.subscriptions == 0
    assert hub.listeners == 0
