"""One keep-alive HTTP/1.1 connection of the load generator, parsed from the bytes as they arrive.

Its own cost per request (a write, one buffer scan, a future) stays far below the server's,
so `burst` measures the server, not itself. It reads only what fcfs's answers carry:
Content-Length bodies, `Connection: close`.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast


class ConnectionClosed(Exception):
    """The server closed the connection before a whole response arrived."""


class KeepAliveConnection(asyncio.Protocol):
    """One keep-alive connection as a protocol: no stream reader, the response is parsed from the
    bytes as they arrive, so the cost per request is a write, one buffer scan and a future."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._head_end = -1
        self._status = 0
        self._length = 0
        self._close_after = False

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self._tls is None:
            await loop.create_connection(lambda: self, self.host, self.port)
        else:
            await loop.create_connection(lambda: self, self.host, self.port, ssl=self._tls, server_hostname=self.host)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not an asyncio.Transport subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionClosed("connection closed before the response"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None or self._waiter.done():
            return
        if self._head_end < 0:
            self._head_end = self._buffer.find(b"\r\n\r\n")
            if self._head_end < 0:
                return
            self._read_head(bytes(self._buffer[: self._head_end]))
        start = self._head_end + 4
        if len(self._buffer) < start + self._length:
            return
        body = bytes(self._buffer[start : start + self._length])
        del self._buffer[: start + self._length]
        self._head_end = -1
        self._waiter.set_result((self._status, body))
        if self._close_after and self._transport is not None:
            self._transport.close()

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self._status = int(lines[0].split(b" ", 2)[1])
        self._length = 0
        self._close_after = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                self._length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                self._close_after = True

    def expire(self) -> None:
        """The request in flight ran out of time: fail it and drop the connection."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(TimeoutError("no response within the timeout"))
        if self._transport is not None:
            self._transport.abort()
            self._transport = None

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def send(self, wire: bytes) -> tuple[int, bytes]:
        """Write one request (its bytes, as `Request.wire` builds them) and wait for its status and body."""
        if self._transport is None or self._transport.is_closing():
            self._buffer.clear()
            self._head_end = -1
            await self.open()
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(wire)
        return await self._waiter


def tls_context(scheme: str, *, insecure: bool = False) -> ssl.SSLContext | None:
    """None for `http`, a client context for `https` (no verification with `insecure`); any other scheme is refused."""
    if scheme == "http":
        return None
    if scheme != "https":
        raise ValueError(f"unsupported URL scheme {scheme!r}: use http:// or https://")
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
