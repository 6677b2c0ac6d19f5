"""Item 12: refusals say what is wrong (the parameter and the rule) without echoing what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.errors import MAX_MESSAGE
from tests.support.http_client import assert_envelope, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")

SECRET = "SECRET-d41d8cd98f00"


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as test_client:
        yield test_client


def message_of(response) -> str:  # noqa: ANN001
    message = response.json()["message"]
    assert len(message) <= MAX_MESSAGE
    return message


@pytest.mark.parametrize(
    ("method", "url", "names"),
    [
        ("GET", f"/api/v1/coupons/abc-{SECRET}?token={SECRET}", "coupon_id"),
        ("GET", f"/api/v1/coupons/1/issued/x{SECRET}?token={SECRET}", "user_id"),
        ("DELETE", f"/api/v1/coupons/{SECRET}?token={SECRET}", "coupon_id"),
        ("POST", f"/api/v1/coupons/1/issue?strategy={SECRET * 5}&token={SECRET}", "strategy"),
    ],
)
async def test_a_refused_parameter_is_named_and_nothing_sent_comes_back(
    client, method: str, url: str, names: str
) -> None:
    response = await client.request(method, url, json={"userId": 1} if method == "POST" else None)
    assert_envelope(response, 400, "G002")
    message = message_of(response)
    assert names in message
    assert SECRET not in response.text
    assert "token" not in response.text


async def test_a_60_kb_path_gets_a_short_answer(client) -> None:
    response = await client.get(f"/api/v1/coupons/{'9' * 60_000}?token={SECRET}")
    assert_envelope(response, 400, "G002")
    assert "coupon_id" in message_of(response)
    assert len(response.content) < 1_000


async def test_a_long_unknown_body_field_is_not_echoed_whole(client) -> None:
    coupon_id = await make_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1, "x" * 5_000: 1})
    assert_envelope(response, 400, "G002")
    message_of(response)
    assert len(response.content) < 1_000


async def test_a_missing_static_file_does_not_echo_its_path(client) -> None:
    response = await client.get(f"/schema/static/swagger-ui/{SECRET}.js")
    assert_envelope(response, 404, "G004")
    assert SECRET not in response.text
