"""A TCP fault proxy for tests: sits between the app and Redis, the broker or the database.

It runs its own event loop in a thread, so it keeps forwarding while a test blocks (starting
a server, waiting on a subprocess) and works the same for in-process and child-process
clients. Every control method is thread-safe and takes effect at once:

- `latency`: seconds added before each chunk is forwarded, in both directions;
- `drop_replies()`: requests still reach the server, answers are discarded: a timeout whose
  outcome is unknown (the command ran, the client never hears it);
- `blackhole()`: nothing is forwarded either way and connections stay open: bytes sent
  meanwhile are lost (a partition whose packets never arrive; those streams are broken for good);
- `reset()`: every open connection is aborted with a TCP RST, both sides;
- `cut()`: `reset()`, and every new connection is reset as soon as it is accepted;
- `reset_on(predicate)`: reset a connection when a client-to-server frame starts whose head
  matches (size-prefixed frames, as Kafka's; needs `framed=True`; see `kafka_api_key`);
- `restore()`: back to plain forwarding (latency and predicate cleared too).

`counters` says what happened (connections, resets, bytes dropped), so a test can prove the
fault really hit.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.engine import make_url

from fcfs.entrypoints.embedded import EmbeddedProcess, free_port

FramePredicate = Callable[[bytes], bool]
CHUNK = 65_536


class Mode(StrEnum):
    PASS = "pass"
    DROP_REPLIES = "drop-replies"
    BLACKHOLE = "blackhole"
    CUT = "cut"


HEAD = 6  # a Kafka request: int32 size, int16 api_key, ...


def kafka_api_key(*keys: int) -> FramePredicate:
    """A predicate on a Kafka request's head (size, api key): true for the given API keys (0 = Produce)."""
    wanted = set(keys)

    def matches(head: bytes) -> bool:
        return struct.unpack(">h", head[4:6])[0] in wanted

    return matches


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.head = b""  # the head of the client frame being read (framed proxies only)
        self.left = 0  # bytes of the current frame's body still to come

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            with suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    def __init__(
        self, upstream_host: str, upstream_port: int, *, port: int | None = None, framed: bool = False
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port or free_port()
        self.framed = framed
        self.mode = Mode.PASS
        self.latency = 0.0
        self.counters: Counter[str] = Counter()
        self._predicate: FramePredicate | None = None
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fault-proxy-{self.port}", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen()).result(10)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # --- faults -----------------------------------------------------------------------------------------------

    def drop_replies(self) -> None:
        self.mode = Mode.DROP_REPLIES

    def blackhole(self) -> None:
        self.mode = Mode.BLACKHOLE

    def reset(self) -> int:
        """Abort every open connection with a RST; returns how many there were."""
        return int(self._call(self._reset_all()).result(10))

    def cut(self) -> None:
        self.mode = Mode.CUT
        self.reset()

    def reset_on(self, predicate: FramePredicate) -> None:
        assert self.framed, "reset_on needs a proxy built with framed=True"
        self._predicate = predicate

    def restore(self) -> None:
        self.mode = Mode.PASS
        self.latency = 0.0
        self._predicate = None

    # --- forwarding -------------------------------------------------------------------------------------------

    def _call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()

    async def _reset_all(self) -> int:
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        self.counters["resets"] += len(links)
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["accepted"] += 1
        link = _Link(self, writer)
        if self.mode is Mode.CUT:
            self.counters["refused"] += 1
            link.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.counters["upstream_refused"] += 1
            link.abort()
            return
        link.upstream = up_writer
        self._links.add(link)
        try:
            await asyncio.gather(self._pump(link, reader, up_writer, True), self._pump(link, up_reader, writer, False))
        finally:
            self._links.discard(link)
            link.abort()

    async def _pump(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter, from_client: bool
    ) -> None:
        with suppress(OSError, ConnectionError, asyncio.IncompleteReadError):
            while data := await source.read(CHUNK):
                if self.latency > 0:
                    await asyncio.sleep(self.latency)
                if from_client and self.framed and self._frames_match(link, data):
                    self.counters["reset_on_frame"] += 1
                    self._links.discard(link)
                    link.abort()
                    return
                if self.mode is Mode.BLACKHOLE or (self.mode is Mode.DROP_REPLIES and not from_client):
                    self.counters["dropped_bytes"] += len(data)
                    continue
                if self.mode is Mode.CUT:
                    return
                sink.write(data)
                await sink.drain()
        # One side closed: close the other half so the peer sees EOF, as a real network would pass it on.
        with suppress(OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()

    def _frames_match(self, link: _Link, data: bytes) -> bool:
        """Follow the frame boundaries of the client's stream; true when a frame head matches the predicate."""
        matched = False
        view = memoryview(data)
        while view:
            if link.left:
                step = min(link.left, len(view))
                link.left -= step
                view = view[step:]
                continue
            take = min(HEAD - len(link.head), len(view))
            link.head += bytes(view[:take])
            view = view[take:]
            if len(link.head) == HEAD:
                size = struct.unpack(">i", link.head[:4])[0]
                predicate = self._predicate
                matched = matched or (predicate is not None and predicate(link.head))
                link.left = max(size - (HEAD - 4), 0)
                link.head = b""
        return matched


ProxyFactory = Callable[..., FaultProxy]


@dataclass
class ProxiedBroker:
    """A tansu broker that advertises the proxy's address, so every Kafka client connects through it."""

    broker: EmbeddedProcess
    proxy: FaultProxy

    @property
    def bootstrap(self) -> str:
        return self.proxy.address


def proxied_database_url(database_url: str, proxy: FaultProxy) -> str:
    """`database_url` with its host and port replaced by the proxy's: the app then talks to MariaDB through it."""
    url = make_url(database_url)
    return url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def database_address(database_url: str) -> tuple[str, int]:
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 3306
