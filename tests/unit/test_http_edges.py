"""Inputs at the edges of what the stores can hold are 4xx with a code, never a 500."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from tests.unit.test_http_contract import assert_envelope

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
