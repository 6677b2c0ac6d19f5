"""A lean HTTP/1.1 load generator: keep-alive connections opened first, then released together.

It speaks just enough HTTP for fcfs's JSON envelope (Content-Length bodies), which keeps
its own cost per request far below the server's, so it measures the server, not itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    code: str
    latency: float
    body: bytes


@dataclass
class BurstResult:
    answers: list[tuple[Request, Answer]] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def by_code(self) -> Counter[str]:
        return Counter(answer.code for _, answer in self.answers)

    @property
    def by_status(self) -> Counter[int]:
        return Counter(answer.status for _, answer in self.answers)

    def percentile(self, q: float) -> float:
        latencies = sorted(answer.latency for _, answer in self.answers)
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    @property
    def throughput(self) -> float:
        return len(self.answers) / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "requests": len(self.answers) + sum(self.transport_errors.values()),
            "answered": len(self.answers),
            "transportErrors": dict(self.transport_errors),
            "byCode": dict(sorted(self.by_code.items())),
            "byStatus": {str(k): v for k, v in sorted(self.by_status.items())},
            "elapsedSeconds": round(self.elapsed, 3),
            "requestsPerSecond": round(self.throughput, 1),
            "latencyMs": {
                name: round(self.percentile(q) * 1000, 2)
                for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
            },
        }


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def send(self, request: Request) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None
        assert self.reader is not None
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in request.headers]
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            head += ["Content-Type: application/json", f"Content-Length: {len(request.body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + request.body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body


def _code_of(body: bytes) -> str:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return "non-json"
    return str(decoded.get("code", "?")) if isinstance(decoded, dict) else "?"


async def burst(
    base_url: str,
    requests: Iterable[Request],
    *,
    concurrency: int,
    on_answer: Callable[[int], None] | None = None,
    timeout: float = 30.0,
) -> BurstResult:
    """Open `concurrency` connections, then send every request as fast as they allow."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: list[Request] = list(requests)
    queue.reverse()
    result = BurstResult()
    connections = [_Connection(host, port) for _ in range(min(concurrency, len(queue)) or 1)]
    await asyncio.gather(*(connection.open() for connection in connections), return_exceptions=True)
    start_gate = asyncio.Event()

    async def worker(connection: _Connection) -> None:
        await start_gate.wait()
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(connection.send(request), timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError) as exc:
                result.transport_errors[type(exc).__name__] += 1
                await connection.close()
                continue
            result.answers.append((request, Answer(status, _code_of(body), time.perf_counter() - started, body)))
            if on_answer is not None:
                on_answer(1)
        await connection.close()  # an idle keep-alive connection would hold a server slot others wait for

    tasks = [asyncio.create_task(worker(connection)) for connection in connections]
    started = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - started
    await asyncio.gather(*(connection.close() for connection in connections))
    return result


def issue_requests(
    coupon_id: int, user_ids: Iterable[int], *, headers: tuple[tuple[str, str], ...] = (), query: str = ""
) -> list[Request]:
    path = f"/api/v1/coupons/{coupon_id}/issue{query}"
    return [Request("POST", path, b'{"userId":%d}' % user_id, headers) for user_id in user_ids]
