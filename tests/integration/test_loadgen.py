"""The load generator against a scripted HTTP server on loopback: parsing, reconnects, timeouts, ramp, tokens."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.cli import app
from fcfs.entrypoints.http.user_token import user_tokens
from fcfs.entrypoints.loadgen import burst, issue_requests, user_token_signer

Handler = Callable[[bytes, bytes, asyncio.StreamWriter, int], Awaitable[bool]]  # head, body, writer, n → keep open


def response(code: str, *, status: int = 200, close: bool = False) -> bytes:
    body = json.dumps({"isSuccess": status < 400, "code": code, "message": "", "result": None}).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


@asynccontextmanager
async def scripted(
    handler: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[tuple[float, bytes, bytes]]]]:
    """A server that reads Content-Length requests and lets `handler` answer; it records (time, head, body)."""
    seen: list[tuple[float, bytes, bytes]] = []
    counter = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                seen.append((time.monotonic(), head, body))
                counter[0] += 1
                if not await handler(head, body, writer, counter[0]):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", seen
    finally:
        server.close()


async def test_every_request_is_answered_and_counted_by_envelope_code() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        user = json.loads(body)["userId"]
        answer = response("202", status=202) if user <= 100 else response("C003", status=409)
        writer.write(answer[:20])  # the head arrives in pieces, the body after a pause
        await writer.drain()
        await asyncio.sleep(0)
        writer.write(answer[20:])
        return True

    async with scripted(handler) as (base, seen):
        result = await burst(base, issue_requests(5, range(1, 2001)), concurrency=50)
    assert result.by_code == {"202": 100, "C003": 1900}
    assert result.by_status == {202: 100, 409: 1900}
    assert not result.transport_errors
    assert sorted(json.loads(body)["userId"] for _, _, body in seen) == list(range(1, 2001))
    assert all(head.startswith(b"POST /api/v1/coupons/5/issue HTTP/1.1") for _, head, _ in seen)
    summary = result.summary()
    assert summary["answered"] == 2000
    assert set(summary["latencyMs"]) == {"p50", "p90", "p95", "p99", "max"}  # type: ignore[arg-type]


async def test_a_server_closing_after_each_answer_is_followed_by_a_new_connection() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(response("200", close=True))
        await writer.drain()
        return False

    async with scripted(handler) as (base, _):
        result = await burst(base, issue_requests(1, range(1, 301)), concurrency=10)
    assert result.by_code == {"200": 300}
    assert not result.transport_errors


async def test_a_request_that_gets_no_answer_is_a_timeout_and_the_rest_go_on() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        if json.loads(body)["userId"] == 7:
            await asyncio.sleep(5)  # never in time
            return False
        writer.write(response("200"))
        return True

    async with scripted(handler) as (base, _):
        started = time.monotonic()
        result = await burst(base, issue_requests(1, range(1, 51)), concurrency=5, timeout=0.3)
    assert result.transport_errors == {"TimeoutError": 1}
    assert result.by_code == {"200": 49}
    assert time.monotonic() - started < 5


async def test_a_connection_dropped_mid_answer_is_a_transport_error() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        if json.loads(body)["userId"] == 3:
            writer.write(response("200")[:-5])  # the body is cut short
            await writer.drain()
            return False
        writer.write(response("200"))
        return True

    async with scripted(handler) as (base, _):
        result = await burst(base, issue_requests(1, range(1, 21)), concurrency=2)
    assert sum(result.transport_errors.values()) == 1
    assert result.by_code == {"200": 19}


async def test_ramp_spreads_the_connections_first_requests_over_the_ramp() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(response("200"))
        return True

    async with scripted(handler) as (base, seen):
        await burst(base, issue_requests(1, range(1, 11)), concurrency=10, ramp=0.5)
    times = sorted(moment for moment, _, _ in seen)
    assert times[-1] - times[0] >= 0.4  # ten connections, one every 50 ms
    async with scripted(handler) as (base, seen):
        await burst(base, issue_requests(1, range(1, 11)), concurrency=10)
    times = sorted(moment for moment, _, _ in seen)
    assert times[-1] - times[0] < 0.4


async def test_signed_requests_carry_a_token_the_api_accepts_for_that_user() -> None:
    secret = "s" * 32
    requests = issue_requests(3, [11, 12], token=user_token_signer(secret, audience="shop", issuer="fcfs"))
    tokens = user_tokens(Settings(user_token_secret=secret, user_token_audience="shop", user_token_issuer="fcfs"))
    for request, user in zip(requests, [11, 12], strict=True):
        [authorization] = [value for name, value in request.headers if name == "Authorization"]
        assert tokens.subject_of(authorization) == user


def test_the_cli_prints_the_json_summary() -> None:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(response("C002", status=409) if n % 2 else response("202", status=202))
        return True

    async def run_cli() -> str:
        async with scripted(handler) as (base, _):
            args = ["loadtest", base, "--coupon", "4", "--users", "40", "--repeat-users", "10", "--concurrency", "8"]
            outcome = await asyncio.to_thread(CliRunner().invoke, app, [*args, "--json"])
            assert outcome.exit_code == 0, outcome.output
            return outcome.stdout

    summary = json.loads(asyncio.run(run_cli()).strip().splitlines()[-1])
    assert summary["answered"] == 50
    assert summary["byCode"] == {"202": 25, "C002": 25}


def cli(base: str, *args: str) -> tuple[int, str, str]:
    """`fcfs loadtest BASE --coupon 4 --users 20 …` in a thread, beside the scripted server's loop."""
    command = ["loadtest", base, "--coupon", "4", "--users", "20", "--concurrency", "4", *args]
    outcome = CliRunner().invoke(app, command)
    return outcome.exit_code, outcome.stdout, outcome.stderr


def answering(code: str, status: int) -> Handler:
    async def handler(head: bytes, body: bytes, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(response(code, status=status))
        return True

    return handler


@pytest.fixture(scope="module")
def tls_server_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 (Debian's openssl), as a server context."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test certificate"
    directory: Path = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(  # noqa: S603
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_an_https_url_is_spoken_over_tls_and_insecure_skips_the_certificate_check(
    tls_server_context: ssl.SSLContext,
) -> None:
    async with scripted(answering("202", 202), tls_server_context) as (base, seen):
        result = await burst(base, issue_requests(1, range(1, 31)), concurrency=5, insecure=True)
        code, stdout, _ = await asyncio.to_thread(cli, base, "--insecure", "--json")

    assert base.startswith("https://")
    assert result.by_code == {"202": 30}
    assert not result.transport_errors
    assert all(head.startswith(b"POST /api/v1/coupons/") for _, head, _ in seen)  # decrypted: real requests
    assert code == 0
    assert json.loads(stdout)["byCode"] == {"202": 20}


async def test_an_untrusted_certificate_is_refused_and_the_cli_exits_1(tls_server_context: ssl.SSLContext) -> None:
    async with scripted(answering("202", 202), tls_server_context) as (base, seen):
        code, stdout, stderr = await asyncio.to_thread(cli, base, "--json")

    assert code == 1
    summary = json.loads(stdout)
    assert summary["answered"] == 0
    assert set(summary["transportErrors"]) == {"SSLCertVerificationError"}
    assert not seen
    assert "no request was answered 2xx" in stderr


async def test_the_cli_exits_1_when_no_request_succeeded() -> None:
    async with scripted(answering("C001", 404)) as (base, _):
        code, stdout, _ = await asyncio.to_thread(cli, base, "--json")

    assert code == 1
    assert json.loads(stdout)["byCode"] == {"C001": 20}


async def test_the_cli_prints_a_table_without_json_and_one_object_with_it() -> None:
    async with scripted(answering("202", 202)) as (base, _):
        plain = await asyncio.to_thread(cli, base)
        as_json = await asyncio.to_thread(cli, base, "--json")

    assert plain[0] == as_json[0] == 0
    assert "fcfs loadtest" in plain[1]
    assert "byCode" in plain[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(plain[1])
    assert json.loads(as_json[1])["answered"] == 20
    assert "requests: 20/20 (100%)" in plain[2]  # stderr is not a terminal: plain progress lines
