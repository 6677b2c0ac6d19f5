"""A lean HTTP/1.1 load generator: keep-alive connections opened first, then released together.

It speaks just enough HTTP for fcfs's JSON envelope (Content-Length bodies), which keeps
its own cost per request far below the server's, so it measures the server, not itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from fcfs.entrypoints.load_connection import ConnectionClosed, KeepAliveConnection, tls_context

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def wire(self, host: str, port: int) -> bytes:
        """The request as HTTP/1.1 bytes (built per send: a burst sends each request once)."""
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        head += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in {"POST", "PUT", "PATCH"}:
            head += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.body


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


class _Coded(msgspec.Struct):
    code: object = "?"


_code_decoder = msgspec.json.Decoder(_Coded)


def _code_of(body: bytes) -> str:
    """The envelope's `code`, reading nothing else; "?" for JSON without one, "non-json" otherwise."""
    try:
        return str(_code_decoder.decode(body).code)
    except msgspec.ValidationError:
        return "?"
    except msgspec.DecodeError:
        return "non-json"


async def burst(
    base_url: str,
    requests: Iterable[Request],
    *,
    concurrency: int,
    on_answer: Callable[[int], None] | None = None,
    timeout: float = 30.0,
    ramp: float = 0.0,
    insecure: bool = False,
) -> BurstResult:
    """Open `concurrency` connections, then send every request as fast as they allow.

    Every connection is open before the first request goes: the barrier is the first-come
    moment. With `ramp` > 0 request i is not sent before `ramp × i / len(requests)` seconds
    after it: users arriving spread over the ramp instead of all at once. An `https://` URL is
    spoken over TLS (verified, unless `insecure`).
    """
    parts = urlsplit(base_url)
    tls = tls_context(parts.scheme, insecure=insecure)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80)
    queue: list[Request] = list(requests)
    queue.reverse()
    result = BurstResult()
    connections = [KeepAliveConnection(host, port, tls) for _ in range(min(concurrency, len(queue)) or 1)]
    await asyncio.gather(*(connection.open() for connection in connections), return_exceptions=True)
    start_gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    clock = time.perf_counter

    total = len(queue)

    async def worker(connection: KeepAliveConnection) -> None:
        await start_gate.wait()
        while queue:
            request = queue.pop()
            if ramp > 0:
                due = opened + ramp * (total - len(queue) - 1) / total
                if (wait := due - clock()) > 0:
                    await asyncio.sleep(wait)
            started = clock()
            timer = loop.call_later(timeout, connection.expire)
            try:
                status, body = await connection.send(request.wire(host, port))
            except (OSError, ConnectionClosed, TimeoutError, ValueError, IndexError) as exc:
                result.transport_errors[type(exc).__name__] += 1
                await connection.close()
                continue
            finally:
                timer.cancel()
            result.answers.append((request, Answer(status, _code_of(body), clock() - started, body)))
            if on_answer is not None:
                on_answer(1)
        await connection.close()  # an idle keep-alive connection would hold a server slot others wait for

    tasks = [asyncio.create_task(worker(connection)) for connection in connections]
    started = opened = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - started
    await asyncio.gather(*(connection.close() for connection in connections))
    return result


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop where it is installed: the load generator must outrun the server."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    return uvloop.run(main)


def issue_requests(
    coupon_id: int,
    user_ids: Iterable[int],
    *,
    headers: tuple[tuple[str, str], ...] = (),
    query: str = "",
    token: Callable[[int], str] | None = None,
) -> list[Request]:
    """One issue request per user id; with `token`, each carries `Authorization: Bearer token(user)`."""
    path = f"/api/v1/coupons/{coupon_id}/issue{query}"
    if token is None:
        return [Request("POST", path, b'{"userId":%d}' % user_id, headers) for user_id in user_ids]
    return [
        Request("POST", path, b'{"userId":%d}' % user_id, (*headers, ("Authorization", f"Bearer {token(user_id)}")))
        for user_id in user_ids
    ]


def user_token_signer(
    secret: str, *, audience: str = "", issuer: str = "", ttl: float = 3600.0
) -> Callable[[int], str]:
    """HS256 user tokens as the API checks them (`sub` = the user id), signed before the barrier."""
    import jwt

    expires = int(time.time() + ttl)
    extra = {"aud": audience} if audience else {}
    extra |= {"iss": issuer} if issuer else {}

    def sign(user_id: int) -> str:
        return jwt.encode({"sub": str(user_id), "exp": expires, **extra}, secret, algorithm="HS256")

    return sign
