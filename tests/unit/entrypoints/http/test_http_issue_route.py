"""The fast issue route: which requests it takes, that the app really serves issue through it,
and the transport edges a test client hides, over a real socket to granian."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.issue_route import IssueRoute, issue_route_of
from tests.support.http_client import make_coupon

ROOT = Path(__file__).resolve().parents[4]


def scope(path: str = "/api/v1/coupons/7/issue", method: str = "POST", query: bytes = b"", **extra: Any) -> Any:
    headers = extra.pop("headers", [(b"content-type", b"application/json")])
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers} | extra


def fast_app(settings: Settings | None = None) -> IssueRoute:
    settings = settings or Settings(strategy="lua")
    app = create_app(settings, services=open_memory_services(settings))
    assert isinstance(app, IssueRoute)
    return app


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
        ({"type": "lifespan"}, None),
    ],
)
async def test_only_plain_posts_to_the_issue_path_take_the_fast_route(request_scope: Any, taken: str | None) -> None:
    app = fast_app()
    async with app.lifespan():
        assert app.coupon_of(request_scope) == taken


async def test_before_startup_every_request_goes_to_litestar() -> None:
    assert fast_app().coupon_of(scope()) is None


def test_the_route_is_the_one_the_litestar_handler_declares() -> None:
    app = create_app(Settings(strategy="lua"), fast_issue=False)
    assert isinstance(app, Litestar)
    pattern, label = issue_route_of(app)
    assert label == "/api/v1/coupons/{coupon_id}/issue"
    assert pattern.fullmatch("/api/v1/coupons/42/issue") is not None
    assert pattern.fullmatch("/api/v1/coupons/42/issue/x") is None


async def test_the_app_serves_issue_on_the_fast_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proof the route is really taken: the Litestar handler is made to fail, and issue still works."""
    from fcfs.entrypoints.http import coupons

    async def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("the Litestar issue handler ran")

    monkeypatch.setattr(coupons, "answer_issue", must_not_run)
    async with AsyncTestClient(fast_app()) as client:
        coupon_id = await make_coupon(client)
        response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"]
        assert response.headers["content-length"] == str(len(response.content))
        with_query = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=lua", json={"userId": 2})
        assert with_query.status_code == 500  # that one did go through the (sabotaged) handler


def memory_app() -> Any:
    """The factory granian imports in the socket test: the real app on the in-memory twins."""
    settings = Settings(strategy="lua", max_body_bytes=1024)
    return create_app(settings, services=open_memory_services(settings))


@pytest.fixture(scope="module")
def served() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--workers", "1",
            "--port", str(port), "--no-ws", f"{__name__}:memory_app"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "granian did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send the head, read what the server says before the body (if anything), then the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head)
        conn.settimeout(1)
        try:
            before = conn.recv(65536)
        except TimeoutError:
            before = b""
        if body and not before:
            conn.sendall(body)
        conn.settimeout(5)
        rest = b""
        while chunk := conn.recv(65536):
            rest += chunk
        return before + rest


ISSUE = "/api/v1/coupons/1/issue"
PATHS = [ISSUE, ISSUE + "?strategy=lua", "/api/v1/coupons"]  # the fast route, then Litestar's


@pytest.mark.parametrize("path", PATHS)
def test_a_malformed_chunked_body_is_400_g002_over_a_socket(served: int, path: str) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n"
    )
    answer = exchange(served, head.encode())
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert b'"code":"G002"' in answer


@pytest.mark.parametrize("path", PATHS)
def test_expect_continue_beyond_the_limit_is_413_not_100_over_a_socket(served: int, path: str) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    answer = exchange(served, head.encode(), b"x" * 100000)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b'"code":"G003"' in answer
