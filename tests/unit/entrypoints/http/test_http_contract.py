"""The HTTP contract on the in-memory twins: envelope, codes, and every bad input a 4xx with a code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from tests.support.http_client import assert_envelope, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")

BIG = 2**63


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(strategy="lua", max_body_bytes=2048)
    app = create_app(settings, services=open_memory_services(settings))
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_issue_flow_answers_issued_then_already_issued_then_sold_out(client) -> None:
    coupon_id = await make_coupon(client, total=1)
    first = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
    assert_envelope(first, 200, "200")
    assert first.json()["result"]["status"] == "issued"
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1}), 409, "C002")
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 2}), 409, "C003")
    state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/1")
    assert_envelope(state, 200, "200")
    assert state.json()["result"]["state"] == "issued"
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["issuedCount"], view["remaining"]) == (1, 0)


async def test_issue_before_stock_is_loaded_is_c006(client) -> None:
    coupon_id = await make_coupon(client, load=False)
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1}), 409, "C006")


async def test_unknown_coupon_is_c001(client) -> None:
    assert_envelope(await client.get("/api/v1/coupons/999"), 404, "C001")
    assert_envelope(await client.post("/api/v1/coupons/999/issue", json={"userId": 1}), 404, "C001")
    assert_envelope(await client.post("/api/v1/coupons/999/stock"), 404, "C001")


async def test_stock_beyond_what_is_left_is_c007(client) -> None:
    coupon_id = await make_coupon(client, total=3, load=False)
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/stock", json={"quantity": 4}), 409, "C007")


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"not json",
        b"[]",
        b"{}",
        b'{"userId": "5"}',
        b'{"userId": 5.0}',
        b'{"userId": true}',
        b'{"userId": null}',
        b'{"userId": 0}',
        b'{"userId": -1}',
        b'{"userId": 9223372036854775808}',
        b'{"userId": 1, "extra": 1}',
        b'{"user_id": 1}',
    ],
)
async def test_bad_issue_bodies_are_g002(client, body: bytes) -> None:
    coupon_id = await make_coupon(client)
    response = await client.post(
        f"/api/v1/coupons/{coupon_id}/issue", content=body, headers={"content-type": "application/json"}
    )
    assert_envelope(response, 400, "G002")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 201, "totalQuantity": 1},
        {"name": "", "totalQuantity": 1},
        {"name": "c", "totalQuantity": 0},
        {"name": "c", "totalQuantity": -5},
        {"name": "c", "totalQuantity": 10_000_001},
        {"name": "c", "totalQuantity": "10"},
        {"name": 5, "totalQuantity": 10},
        {"totalQuantity": 10},
        {"name": "c"},
        {"name": "c", "totalQuantity": 1, "unknown": True},
        {"name": "c", "totalQuantity": 1, "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"},
        {"name": "c", "totalQuantity": 1, "startsAt": "2030-01-01T00:00:00"},
        {"name": "c", "totalQuantity": 1, "startsAt": "yesterday"},
    ],
)
async def test_bad_coupon_bodies_are_g002(client, body: dict[str, object]) -> None:
    assert_envelope(await client.post("/api/v1/coupons", json=body), 400, "G002")


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", str(BIG), "٣", "１", "+1", "01", "1e3", "%20"])
async def test_bad_path_ids_are_4xx_with_a_code(client, raw: str) -> None:
    coupon_id = await make_coupon(client)
    for response in (
        await client.get(f"/api/v1/coupons/{raw}"),
        await client.post(f"/api/v1/coupons/{raw}/issue", json={"userId": 1}),
        await client.get(f"/api/v1/coupons/{coupon_id}/issued/{raw}"),
    ):
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["code"] in {"G002", "G004"}


async def test_oversized_body_is_413(client) -> None:
    coupon_id = await make_coupon(client)
    response = await client.post(
        f"/api/v1/coupons/{coupon_id}/issue",
        content=b'{"userId": 1, "pad": "' + b"x" * 4096 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert_envelope(response, 413, "G003")


async def test_unknown_route_and_method_have_codes(client) -> None:
    assert_envelope(await client.get("/api/v1/nothing"), 404, "G004")
    assert_envelope(await client.put("/api/v1/coupons"), 405, "G005")


async def test_unknown_strategy_is_c004(client) -> None:
    coupon_id = await make_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=nope", json={"userId": 1})
    assert_envelope(response, 400, "C004")


async def test_admin_token_guards_create_and_stock() -> None:
    settings = Settings(strategy="lua", admin_token="s3cret")
    app = create_app(settings, services=open_memory_services(settings))
    async with AsyncTestClient(app) as client:
        assert_envelope(await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 1}), 401, "A001")
        wrong = {"Authorization": "Bearer nope"}
        response = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 1}, headers=wrong)
        assert_envelope(response, 401, "A001")
        good = {"Authorization": "Bearer s3cret"}
        created = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 1}, headers=good)
        coupon_id = created.json()["result"]["id"]
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/stock"), 401, "A001")
        issue = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=lua", json={"userId": 1})
        assert_envelope(issue, 403, "A002")
        view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
        assert view["stockLoaded"] is False


async def test_window_refuses_issue_before_start_with_c005(client) -> None:
    created = await client.post(
        "/api/v1/coupons", json={"name": "later", "totalQuantity": 5, "startsAt": "2999-01-01T00:00:00Z"}
    )
    coupon_id = created.json()["result"]["id"]
    await client.post(f"/api/v1/coupons/{coupon_id}/stock")
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1}), 409, "C005")


async def test_schema_and_health_answer(client) -> None:
    assert (await client.get("/schema/openapi.json")).status_code == 200
    assert_envelope(await client.get("/health"), 200, "200")
    assert_envelope(await client.get("/ready"), 200, "200")


ADMIN_POSTS = [("/api/v1/coupons", b'{"name": "c", "totalQuantity": 1}'), ("/api/v1/coupons/{id}/stock", b"{}")]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json", None]
)
async def test_a_body_not_declared_json_is_415_g006(client, content_type: str | None) -> None:
    coupon_id = await make_coupon(client)
    headers = {} if content_type is None else {"content-type": content_type}
    posts = [(f"/api/v1/coupons/{coupon_id}/issue", b'{"userId": 1}'), *ADMIN_POSTS]
    for path, body in posts:
        response = await client.post(path.format(id=coupon_id), content=body, headers=headers)
        assert_envelope(response, 415, "G006")
    assert (await client.get(f"/api/v1/coupons/{coupon_id}/issued/1")).json()["result"]["state"] == "none"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", "application/x+json"])
async def test_json_media_types_are_read(client, content_type: str) -> None:
    coupon_id = await make_coupon(client)
    path = f"/api/v1/coupons/{coupon_id}/issue"
    response = await client.post(path, content=b'{"userId": 1}', headers={"content-type": content_type})
    assert_envelope(response, 200, "200")


async def test_no_body_needs_no_content_type(client) -> None:
    coupon_id = await make_coupon(client, load=False)
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/stock"), 200, "200")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/coupons/{id}/issue", b'{"userId": 1, "userId": 2}'),
        ("/api/v1/coupons/{id}/issue", b'{"userId": 1, "user\\u0049d": 2}'),  # the same key, escaped
        ("/api/v1/coupons", b'{"name": "a", "totalQuantity": 1, "name": "b"}'),
        ("/api/v1/coupons/{id}/stock", b'{"quantity": 1, "quantity": 2}'),
    ],
)
async def test_a_key_given_twice_is_g002(client, path: str, body: bytes) -> None:
    coupon_id = await make_coupon(client, load=False)
    if "issue" in path:
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/stock"), 200, "200")
    response = await client.post(path.format(id=coupon_id), content=body, headers={"content-type": "application/json"})
    assert_envelope(response, 400, "G002")
    assert "more than once" in response.json()["message"]


async def test_a_key_named_inside_a_value_is_not_a_repeat(client) -> None:
    created = await client.post("/api/v1/coupons", json={"name": '"name"', "totalQuantity": 1})
    assert_envelope(created, 201, "201")
    assert created.json()["result"]["name"] == '"name"'
