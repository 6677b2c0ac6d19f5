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
from fcfs.entrypoints.http.user_token import user_tokens
from tests.support.http_client import assert_envelope

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
    state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/42", headers=bearer(token()))
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
        state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/{user}", headers=ADMIN)
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
        ("exp a string (RFC 7519 NumericDate is a number)", lambda: token(exp=" 99999999999 ")),
        ("exp a numeric string", lambda: token(exp=str(int(time.time()) + 60))),
        ("nbf a string", lambda: token(nbf="0")),
        ("iat a string", lambda: token(iat=str(int(time.time())))),
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


def test_settings_objects_asked_in_turn_each_keep_their_own_tokens() -> None:
    """The last settings are recognised by identity (no hashing per request): taking turns must not mix them."""
    with_tokens = Settings(user_token_secret=SECRET, user_token_audience="fcfs", user_token_issuer="shop")
    without = Settings()
    for _ in range(2):
        assert user_tokens(with_tokens).subject_of(f"Bearer {token()}") == 42
        assert user_tokens(without).subject_of("") is None
    equal = Settings(user_token_secret=SECRET, user_token_audience="fcfs", user_token_issuer="shop")
    assert user_tokens(equal) is user_tokens(with_tokens)  # built once per settings value


async def test_without_a_secret_the_body_user_is_required() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await loaded_coupon(client)
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}), 400, "G002")
        assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 3}), 200, "200")


async def test_numeric_dates_may_be_fractional_numbers(client) -> None:
    coupon_id = await loaded_coupon(client)
    now = time.time()
    fractional = token(exp=now + 60.5, nbf=now - 1.5, iat=now - 0.25)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}, headers=bearer(fractional))
    assert_envelope(response, 200, "200")


# Item 11: a user's issuance state is that user's (or the admin's) to read when user tokens are on.


async def test_reading_a_users_state_needs_a_token(client) -> None:
    coupon_id = await loaded_coupon(client)
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/issued/42"), 401, "A001")
    bad = bearer(token(exp=" 99999999999 "))
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/issued/42", headers=bad), 401, "A001")


async def test_a_user_reads_their_own_state_and_not_anothers(client) -> None:
    coupon_id = await loaded_coupon(client)
    await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}, headers=bearer(token(sub="7")))
    own = await client.get(f"/api/v1/coupons/{coupon_id}/issued/42", headers=bearer(token()))
    assert_envelope(own, 200, "200")
    assert own.json()["result"]["state"] == "none"
    other = await client.get(f"/api/v1/coupons/{coupon_id}/issued/7", headers=bearer(token()))
    assert_envelope(other, 403, "A002")
    assert "issued" not in other.text


async def test_the_admin_reads_any_users_state(client) -> None:
    coupon_id = await loaded_coupon(client)
    await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={}, headers=bearer(token(sub="7")))
    state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/7", headers=ADMIN)
    assert_envelope(state, 200, "200")
    assert state.json()["result"]["state"] == "issued"


async def test_without_an_admin_token_configured_no_bearer_is_the_admin_for_reads() -> None:
    settings = Settings(strategy="lua", user_token_secret=SECRET, user_token_audience="fcfs", user_token_issuer="shop")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await loaded_coupon(client)
        anything = {"Authorization": "Bearer whatever"}
        assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/issued/42", headers=anything), 401, "A001")


async def test_without_user_tokens_states_stay_readable_by_anyone() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await loaded_coupon(client)
        assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/issued/42"), 200, "200")


# Item 16: with both tokens configured the admin `?strategy=` override is usable.


async def test_the_admin_bearer_with_a_strategy_issues_to_the_body_user(client) -> None:
    coupon_id = await loaded_coupon(client)
    url = f"/api/v1/coupons/{coupon_id}/issue?strategy=lua"
    response = await client.post(url, json={"userId": 9}, headers=ADMIN)
    assert_envelope(response, 200, "200")
    assert response.json()["result"]["userId"] == 9
    assert_envelope(await client.post(url, json={}, headers=ADMIN), 400, "G002")  # the admin names the user


async def test_a_user_token_with_the_admin_header_may_choose_a_strategy(client) -> None:
    coupon_id = await loaded_coupon(client)
    url = f"/api/v1/coupons/{coupon_id}/issue?strategy=lua"
    headers = bearer(token()) | {"X-Fcfs-Admin-Token": "admin-token"}
    response = await client.post(url, json={}, headers=headers)
    assert_envelope(response, 200, "200")
    assert response.json()["result"]["userId"] == 42


@pytest.mark.parametrize("admin_header", ["wrong", "", "Bearer admin-token"])
async def test_a_wrong_admin_header_is_forbidden(client, admin_header: str) -> None:
    coupon_id = await loaded_coupon(client)
    url = f"/api/v1/coupons/{coupon_id}/issue?strategy=lua"
    headers = bearer(token()) | {"X-Fcfs-Admin-Token": admin_header}
    assert_envelope(await client.post(url, json={}, headers=headers), 403, "A002")
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert view["remaining"] == 5


async def test_without_a_strategy_the_admin_bearer_is_no_issuing_caller(client) -> None:
    coupon_id = await loaded_coupon(client)
    response = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 9}, headers=ADMIN)
    assert_envelope(response, 401, "A001")
