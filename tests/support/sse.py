"""Reading Server-Sent Events in tests: a parser, and a raw asyncio client light enough for a thousand streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class SseEvent:
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SseParser:
    """Feeds on text as it arrives; `events` and `comments` grow as complete blocks come in."""

    events: list[SseEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    _pending: str = ""

    def feed(self, text: str) -> list[SseEvent]:
        self._pending += text.replace("\r\n", "\n")
        new: list[SseEvent] = []
        while "\n\n" in self._pending:
            block, self._pending = self._pending.split("\n\n", 1)
            name, data = "message", []
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
            if data:
                new.append(SseEvent(name, json.loads("\n".join(data))))
        self.events.extend(new)
        return new


def parse_events(text: str) -> SseParser:
    parser = SseParser()
    parser.feed(text)
    return parser


@dataclass
class RawStream:
    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    parser: SseParser = field(default_factory=SseParser)
    _chunked: bool = False
    _chunk_left: int = 0
    _done: bool = False

    async def body(self) -> str:
        """The whole body (for a refusal: the JSON envelope)."""
        parts = []
        while (text := await self._read()) is not None:
            parts.append(text)
        return "".join(parts)

    async def events(self) -> AsyncIterator[SseEvent]:
        """Events as they arrive, until the server ends the stream."""
        while (text := await self._read()) is not None:
            for event in self.parser.feed(text):
                yield event

    async def _read(self) -> str | None:
        if self._done:
            return None
        if not self._chunked:
            data = await self.reader.read(65536)
            if not data:
                self._done = True
                return None
            return data.decode()
        if self._chunk_left == 0:
            size = int((await self.reader.readline()).strip() or b"0", 16)
            if size == 0:
                self._done = True
                return None
            self._chunk_left = size
        data = await self.reader.read(self._chunk_left)
        if not data:
            self._done = True
            return None
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            await self.reader.readexactly(2)
        return data.decode()


@asynccontextmanager
async def open_stream(base_url: str, path: str, headers: dict[str, str] | None = None) -> AsyncIterator[RawStream]:
    """GET `path` on one HTTP/1.1 connection of its own; leaving the block closes it (a client disconnecting)."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n{extra}\r\n"
        writer.write(request.encode())
        await writer.drain()
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        found: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            found[name.strip().lower()] = value.strip()
        stream = RawStream(status, found, reader, _chunked=found.get("transfer-encoding", "") == "chunked")
        if "content-length" in found and not stream._chunked:
            body = await reader.readexactly(int(found["content-length"]))
            stream.reader = asyncio.StreamReader()
            stream.reader.feed_data(body)
            stream.reader.feed_eof()
        yield stream
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
