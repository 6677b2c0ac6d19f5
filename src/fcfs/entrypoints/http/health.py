"""Liveness answers while the process runs; readiness asks every configured dependency."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from litestar import Response, get

from fcfs.domain.errors import Code
from fcfs.entrypoints.http.deps import ServicesDep
from fcfs.entrypoints.http.envelope import envelope
from fcfs.entrypoints.http.openapi import documented

if TYPE_CHECKING:
    from fcfs.ports.health import DependencyCheck


@get("/health", operation_class=documented((200,)))
async def health() -> Response[bytes]:
    return envelope(Code.OK, {"status": "up"})


@get("/ready", operation_class=documented((200, 503)))
async def ready(services: ServicesDep) -> Response[bytes]:
    results: dict[str, str] = {}

    async def probe(name: str, check: DependencyCheck) -> None:
        try:
            await asyncio.wait_for(check.check(), 2.0)
        except Exception as exc:
            results[name] = f"down: {type(exc).__name__}"
        else:
            results[name] = "up"

    await asyncio.gather(*(probe(check.name, check) for check in services.checks))
    ok = all(state == "up" for state in results.values())
    return envelope(Code.OK if ok else Code.BUSY, {"dependencies": results})
