"""The fast issue route at the ASGI level: what it takes, and the transport edges a test client hides."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

from fcfs.bootstrap.container import Services, open_memory_services
from fcfs.bootstrap.metrics import Metrics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import FcfsApp, create_app
from fcfs.entrypoints.http.issue_route import IssueRoute
from fcfs.entrypoints.http.request_context import RequestCounter
from tests.unit.test_http_contract import make_coupon


def scope(path: str = "/api/v1/coupons/7/issue", method: str = "POST", query: bytes = b"", **extra: Any) -> Any:
    headers = extra.pop("headers", [(b"content-type", b"application/json")])
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers} | extra


class Wire:
    """An ASGI transport by hand: the body arrives in the given chunks; what is sent is kept."""

    def __init__(self, *chunks: bytes, disconnect: bool = False) -> None:
        self._messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
            for index, chunk in enumerate(chunks)
        ]
        if disconnect:
            self._messages = [*self._messages[:-1], {"type": "http.disconnect"}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self._messages.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def envelope(self) -> dict[str, Any]:
        return dict(json.loads(self.sent[1]["body"]))


@pytest.fixture
async def opened() -> AsyncIterator[tuple[IssueRoute, Services]]:
    settings = Settings(strategy="lua", max_body_bytes=64)
    async with open_memory_services(settings) as services:
        route = IssueRoute(settings.max_body_bytes, RequestCounter(Metrics(CollectorRegistry())))
        route.services = services
        yield route, services


@pytest.mark.parametrize(
    ("request_scope", "taken"),
    [
        (scope(), "7"),
        (scope("/api/v1/coupons/abc/issue"), "abc"),  # parse_id refuses it, with the envelope
        (scope(query=b"strategy=lua"), None),  # the Litestar handler validates the query
        (scope(method="GET"), None),
        (scope("/api/v1/coupons/7/issue/"), None),
        (scope("/api/v1/coupons/7/issued/1"), None),
        (scope("/api/v1/coupons/7/8/issue"), None),
        (scope(type="websocket"), None),
    ],
)
async def test_only_plain_posts_to_the_issue_path_take_the_fast_route(
    opened: tuple[IssueRoute, Services], request_scope: Any, taken: str | None
) -> None:
    route, _ = opened
    assert route.coupon_of(request_scope) == taken


async def test_before_startup_every_request_goes_to_litestar() -> None:
    route = IssueRoute(64, RequestCounter(Metrics(CollectorRegistry())))
    assert route.coupon_of(scope()) is None


async def test_a_body_in_chunks_is_joined(opened: tuple[IssueRoute, Services]) -> None:
    route, services = opened
    coupon = await services.create_coupon.execute(_new_coupon())
    await services.load_stock.execute(coupon.id, None)
    wire = Wire(b'{"user', b'Id": 5}')
    await route(scope(f"/api/v1/coupons/{coupon.id}/issue"), wire.receive, wire.send, str(coupon.id))
    assert wire.status == 200, wire.envelope
    assert wire.envelope["result"]["userId"] == 5
    assert wire.headers[b"x-request-id"]
    assert wire.headers[b"content-length"] == str(len(wire.sent[1]["body"])).encode()


@pytest.mark.parametrize(
    ("headers", "chunks", "status", "code"),
    [
        ([(b"content-length", b"65")], [b"{}"], 413, "G003"),  # refused on the declared length
        ([], [b"x" * 40, b"x" * 40], 413, "G003"),  # refused once the chunks pass the limit
        ([(b"content-length", b"ten")], [b"{}"], 400, "G002"),
        ([], [b'{"userId": "5"}'], 400, "G002"),
    ],
)
async def test_transport_edges_are_envelopes(
    opened: tuple[IssueRoute, Services], headers: list[Any], chunks: list[bytes], status: int, code: str
) -> None:
    route, _ = opened
    wire = Wire(*chunks)
    await route(scope(headers=headers), wire.receive, wire.send, "7")
    assert (wire.status, wire.envelope["code"]) == (status, code)


async def test_a_client_gone_before_its_body_gets_no_answer(opened: tuple[IssueRoute, Services]) -> None:
    route, _ = opened
    wire = Wire(b'{"us', b"", disconnect=True)
    await route(scope(), wire.receive, wire.send, "7")
    assert wire.sent == []


async def test_an_unexpected_failure_is_a_g001_envelope(
    opened: tuple[IssueRoute, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    route, services = opened

    async def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(services.issue_coupon, "execute", broken)
    wire = Wire(b'{"userId": 1}')
    await route(scope(), wire.receive, wire.send, "7")
    assert (wire.status, wire.envelope["code"]) == (500, "G001")


async def test_the_app_serves_issue_on_the_fast_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proof the route is really taken: the Litestar handler is made to fail, and issue still works."""
    from fcfs.entrypoints.http import coupons

    async def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("the Litestar issue handler ran")

    monkeypatch.setattr(coupons, "answer_issue", must_not_run)
    settings = Settings(strategy="lua")
    app = create_app(settings, services=open_memory_services(settings))
    assert isinstance(app, FcfsApp)
    async with AsyncTestClient(app) as client:
        coupon_id = await make_coupon(client)
        response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
        assert response.status_code == 200, response.text
        with_query = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=lua", json={"userId": 2})
        assert with_query.status_code == 500  # that one did go through the (sabotaged) handler


def _new_coupon() -> Any:
    from fcfs.domain.coupon import NewCoupon, ValidityWindow

    return NewCoupon("c", 10, ValidityWindow(None, None))
