"""User tokens on issue: the user is the token's subject; every bad token is 401 A001, a mismatch 403 A002."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import jwt
import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from tests.unit.test_http_contract import assert_envelope

pytestmark = pytest.mark.usefixtures("both_issue_paths")

SECRET = "s" * 64  # long enough for HS512 too (the "another algorithm" case)
ADMIN = {"Authorization": "Bearer admin-token"}


def token(secret: str = SECRET, algorithm: str = "HS256", **overrides: object) -> str:
    claims: dict[str, object] = {"sub": "42", "exp": int(time.time()) + 60, "aud": "fcfs", "iss": "shop"}
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(
        strategy="lua",
        user_token_secret=SECRET,
        user_token_audience="fcfs",
        user_token_issuer="shop",
        admin_token="admin-token",
    )
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as test_client:
        yield test_client


async def loaded_coupon(client: AsyncTestClient) -> int:  # type: ignore[type-arg]
    created = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 5}, headers=ADMIN)
    coupon_id = int(created.json()["result"]["id"])
    assert (await client.post(f"/api/v1/coupons/{coupon_id}/stock", headers=ADMIN)).status_code == 200
    return coupon_id


async def test_a_valid_token_issues_to_its_subject_without_a_body_user(client) -> None:
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}, headers=bearer(token()))
    assert_envelope(response, 200, "200")
    assert response.json()["result"]["userId"] == 42
    state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/42")
    assert state.json()["result"]["state"] == "issued"


async def test_with_a_token_the_body_may_be_empty(client) -> None:
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", headers=bearer(token()))
    assert_envelope(response, 200, "200")
    assert response.json()["result"]["userId"] == 42


async def test_a_body_user_equal_to_the_subject_is_accepted(client) -> None:
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 42}, headers=bearer(token()))
    assert_envelope(response, 200, "200")


async def test_a_body_user_other_than_the_subject_is_forbidden_and_nothing_is_issued(client) -> None:
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 7}, headers=bearer(token()))
    assert_envelope(response, 403, "A002")
    for user in (7, 42):
        state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/{user}")
        assert state.json()["result"]["state"] == "none"


def _alg_none() -> str:
    return jwt.encode({"sub": "42", "exp": int(time.time()) + 60, "aud": "fcfs", "iss": "shop"}, None, algorithm="none")


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("alg none", _alg_none),
        ("expired", lambda: token(exp=int(time.time()) - 10)),
        ("wrong signature", lambda: token(secret="x" * 64)),
        ("wrong audience", lambda: token(aud="another-service")),
        ("wrong issuer", lambda: token(iss="someone-else")),
        ("missing exp", lambda: token(exp=None)),
        ("missing sub", lambda: token(sub=None)),
        ("non-numeric sub", lambda: token(sub="alice")),
        ("zero sub", lambda: token(sub="0")),
        ("sub out of range", lambda: token(sub=str(2**63))),
        ("sub not a string", lambda: token(sub=42)),
        ("another algorithm", lambda: token(algorithm="HS512")),
        ("garbage", lambda: "not.a.token"),
    ],
)
async def test_every_bad_token_is_401_a001_and_issues_nothing(client, case: str, make) -> None:  # noqa: ANN001
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 42}, headers=bearer(make()))
    assert_envelope(response, 401, "A001")
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert view["remaining"] == 5, case


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "Bearer "])
async def test_issue_without_a_bearer_token_is_401(client, header: str | None) -> None:
    coupon_id = await loaded_coupon(client)
    headers = {} if header is None else {"Authorization": header}
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 42}, headers=headers)
    assert_envelope(response, 401, "A001")


async def test_reads_need_no_token(client) -> None:
    coupon_id = await loaded_coupon(client)
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}"), 200, "200")


async def test_delete_needs_the_admin_token(client) -> None:
    coupon_id = await loaded_coupon(client)
    assert_envelope(await client.delete(f"/api/v1/coupons/{coupon_id}"), 401, "A001")
    assert_envelope(await client.delete(f"/api/v1/coupons/{coupon_id}", headers=bearer(token())), 401, "A001")
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}"), 200, "200")
    assert_envelope(await client.delete(f"/api/v1/coupons/{coupon_id}", headers=ADMIN), 200, "200")
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}"), 404, "C001")


async def test_choosing_a_strategy_needs_the_admin_token_even_with_a_user_token(client) -> None:
    coupon_id = await loaded_coupon(client)
    url = f"/api/v1/coupons/{coupon_id}/issue?strategy=lua"
    assert_envelope(await client.post(url, json={}, headers=bearer(token())), 403, "A002")


def test_a_short_token_secret_is_refused_at_start_up() -> None:
    settings = Settings(strategy="lua", user_token_secret="short")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(settings, services=open_memory_services(settings))


async def test_without_a_secret_the_body_user_is_required() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await loaded_coupon(client)
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}), 400, "G002")
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 3}), 200, "200")
