"""Talking to an fcfs app in-process: coupons made over the API, concurrent clients, the envelope checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient


async def make_coupon(client: AsyncTestClient[Litestar] | httpx.AsyncClient, total: int = 2, load: bool = True) -> int:
    """A coupon created through the API (as an admin would), its stock loaded unless `load` is False."""
    created = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": total})
    assert created.status_code == 201, created.text
    coupon_id = int(created.json()["result"]["id"])
    if load:
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/stock")).status_code == 200
    return coupon_id


def assert_envelope(response: Any, status: int, code: str) -> None:
    """The response has the envelope of docs/design.md §3, the status, and the code the outcome maps to."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"isSuccess", "code", "message", "result"}
    assert body["code"] == code, body
    assert body["isSuccess"] is (status < 400)


class ServedApp(Protocol):
    """What granian serves: the Litestar app itself or the `IssueRoute` wrapper around it."""

    def lifespan(self) -> AbstractAsyncContextManager[None]: ...

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


@asynccontextmanager
async def concurrent_client(app: ServedApp, peer: str = "192.0.2.10") -> AsyncIterator[httpx.AsyncClient]:
    """Requests served concurrently on this event loop (Litestar's test client serves one at a time)."""
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://fcfs.test") as client:
            yield client
