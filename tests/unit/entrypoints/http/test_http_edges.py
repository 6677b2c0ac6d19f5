"""Inputs at the edges of what the stores can hold, and of the transport, are 4xx with a code, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import Container, open_memory_services, started, use_memory_backends
from fcfs.bootstrap.settings import Settings
from fcfs.domain.issuance import IssueCommand, IssueOutcome
from fcfs.entrypoints.http.app import create_app
from fcfs.ports.use_cases import IssuesCoupons
from tests.support.http_client import assert_envelope, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")


@pytest.mark.parametrize(
    "window",
    [
        {"startsAt": "0001-01-01T00:00:00+01:00"},  # before year 1 once in UTC
        {"endsAt": "9999-12-31T23:59:59-01:00"},  # after year 9999 once in UTC
        {"startsAt": "1969-12-31T23:59:59Z"},
        {"endsAt": "0999-01-01T00:00:00Z"},  # DATETIME columns start at year 1000
    ],
)
async def test_window_ends_outside_storable_time_are_g002(window: dict[str, str]) -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        response = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 1} | window)
        assert_envelope(response, 400, "G002")


async def test_window_ends_in_other_offsets_are_stored_in_utc() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        body = {"name": "c", "totalQuantity": 1, "startsAt": "2030-01-01T09:00:00+09:00"}
        created = await client.post("/api/v1/coupons", json=body)
        assert_envelope(created, 201, "201")
        assert created.json()["result"]["startsAt"] == "2030-01-01T00:00:00+00:00"


def http_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("192.0.2.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


class Wire:
    """An ASGI transport by hand: the given messages are what `receive()` returns; what is sent is kept."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self._messages = list(messages)
        self.receives = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        return self._messages.pop(0) if self._messages else {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def answer(self) -> tuple[int, str]:
        body = b"".join(message.get("body", b"") for message in self.sent[1:])
        return int(self.sent[0]["status"]), str(json.loads(body)["code"])


@asynccontextmanager
async def started_app() -> AsyncIterator[Any]:
    """The app, started, with coupon 1 loaded; called straight with hand-made ASGI messages."""
    settings = Settings(strategy="lua", max_body_bytes=64)
    app = create_app(settings, services=open_memory_services(settings))
    async with AsyncTestClient(app) as client:
        await make_coupon(client, total=10)
        yield app


JSON = (b"content-type", b"application/json")
POSTS = [
    "/api/v1/coupons/1/issue",
    "/api/v1/coupons/1/issue?strategy=lua",
    "/api/v1/coupons",
    "/api/v1/coupons/1/stock",
]


@pytest.mark.parametrize("path", POSTS)
async def test_a_body_cut_short_is_400_g002(path: str) -> None:
    """granian hands a malformed chunked body to the app as a disconnect before the last chunk."""
    async with started_app() as asgi_app:
        wire = Wire({"type": "http.request", "body": b'{"us', "more_body": True}, {"type": "http.disconnect"})
        await asgi_app(http_scope(path, [JSON, (b"transfer-encoding", b"chunked")]), wire.receive, wire.send)
        assert wire.answer == (400, "G002")


@pytest.mark.parametrize("path", POSTS)
async def test_expect_continue_beyond_the_limit_is_413_before_any_read(path: str) -> None:
    """granian sends `100 Continue` when the app first calls `receive()`: the refusal must come before it."""
    async with started_app() as asgi_app:
        wire = Wire({"type": "http.request", "body": b"x" * 65, "more_body": False})
        headers = [JSON, (b"content-length", b"100000"), (b"expect", b"100-continue")]
        await asgi_app(http_scope(path, headers), wire.receive, wire.send)
        assert wire.answer == (413, "G003")
        assert wire.receives == 0


@pytest.mark.parametrize("path", POSTS[:2])
async def test_a_body_in_chunks_is_joined(path: str) -> None:
    async with started_app() as asgi_app:
        chunks = [b'{"user', b'Id": 5', b"}"]
        wire = Wire(*({"type": "http.request", "body": c, "more_body": i < 2} for i, c in enumerate(chunks)))
        await asgi_app(http_scope(path, [JSON, (b"transfer-encoding", b"chunked")]), wire.receive, wire.send)
        assert wire.answer == (200, "200")


class BrokenIssue(IssuesCoupons):
    """An issue use case failing in a way nobody planned for."""

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        raise RuntimeError("boom")


async def test_an_unexpected_failure_while_issuing_is_a_500_g001_envelope() -> None:
    settings = Settings(strategy="lua")
    container = use_memory_backends(Container(settings=settings))
    container.issue_coupon.override(providers.Object(BrokenIssue()))
    async with AsyncTestClient(create_app(settings, services=started(container))) as client:
        coupon_id = await make_coupon(client, total=1)
        response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
        assert_envelope(response, 500, "G001")
        assert "boom" not in response.text  # nothing of the failure leaks to the client
