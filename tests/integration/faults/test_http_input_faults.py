"""Hostile input over real HTTP (`fcfs serve` on lua-async): cases 21–27.

Every refusal is checked twice: the answer (status and code), and the gate, which must be
exactly as before (stock untouched, no user admitted, no key built from the raw input).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis.asyncio as aioredis

from tests.support.drivers import ApiServer, api_server
from tests.support.oracle import Stored, read_stored
from tests.support.pipeline import SettingsFactory
from tests.support.prometheus import scrape

SECRET = "s" * 48
ADMIN = "admin-token-for-the-faults-suite"


@pytest.fixture
async def server(
    request: pytest.FixtureRequest, lua_async: SettingsFactory, tmp_path: Path
) -> AsyncIterator[ApiServer]:
    """One `fcfs serve` worker with the test's settings changes (`request.param`)."""
    changes: dict[str, Any] = getattr(request, "param", {})
    async with api_server(lua_async(**changes), 1, tmp_path / "api") as started:
        yield started


async def loaded_coupon(server: ApiServer, total: int = 10) -> int:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, headers=headers) as client:
        created = await client.post("/api/v1/coupons", json={"name": "faults", "totalQuantity": total})
        coupon_id = int(created.json()["result"]["id"])
        assert (await client.post(f"/api/v1/coupons/{coupon_id}/stock")).status_code == 200
    return coupon_id


async def gate_of(server: ApiServer, coupon_id: int) -> Stored:
    settings = server.settings
    return await read_stored(
        settings.database_url, coupon_id, redis_url=settings.redis_url, redis_prefix=settings.redis_prefix
    )


def assert_untouched(gate: Stored, total: int) -> None:
    assert (gate.gate_stock, gate.gate_users, gate.row_users) == (total, frozenset(), ()), gate


async def post_issue(server: ApiServer, coupon: int | str, body: bytes | str, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        return await client.post(
            f"/api/v1/coupons/{coupon}/issue",
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json()["code"])


@pytest.mark.parametrize("server", [{"max_body_bytes": 256}], indirect=True)
async def test_case_21_an_oversized_body_is_refused_with_413_before_anything_is_issued(server: ApiServer) -> None:
    """Case 21. With `FCFS_MAX_BODY_BYTES=256`: a 4 KiB issue body with a valid `userId`, the same body
    sent chunked (no Content-Length), and a 4 KiB coupon-creation body.

    Expected: each is 413 G003; the gate is untouched (stock 10, no user) and no coupon was made.
    """
    coupon_id = await loaded_coupon(server)
    padded = json.dumps({"userId": 1, "pad": "x" * 4096})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(padded), 512):
            yield padded[start : start + 512].encode()

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        plain = await post_issue(server, coupon_id, padded)
        chunked = await client.post(
            f"/api/v1/coupons/{coupon_id}/issue", content=chunks(), headers={"Content-Type": "application/json"}
        )
        creation = await client.post(
            "/api/v1/coupons",
            content=json.dumps({"name": "x" * 4096, "totalQuantity": 5}),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )

    assert "content-length" not in chunked.request.headers
    assert [code(plain), code(chunked), code(creation)] == [(413, "G003")] * 3
    assert_untouched(await gate_of(server, coupon_id), 10)
    assert (await gate_of(server, coupon_id)).coupon_id == coupon_id


def token(sub: str, *, secret: str = SECRET, exp_in: float = 300, **claims: Any) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time() + exp_in), **claims}, secret, algorithm="HS256")


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


TOKENS = {"user_token_secret": SECRET, "user_token_audience": "fcfs", "admin_token": ADMIN}


@pytest.mark.parametrize("server", [TOKENS], indirect=True)
async def test_case_22_a_body_user_id_different_from_the_token_subject_is_refused(server: ApiServer) -> None:
    """Case 22. A valid token for user 5 with body `{"userId": 6}`; then the same token with `{"userId": 5}`.

    Expected: the first is 403 A002 and admits nobody; the second is 202 and admits user 5 only
    (the token works, so the refusal was about the mismatch).
    """
    coupon_id = await loaded_coupon(server)
    bearer = {"Authorization": f"Bearer {token('5', aud='fcfs')}"}

    mismatch = await post_issue(server, coupon_id, '{"userId":6}', **bearer)
    assert code(mismatch) == (403, "A002")
    assert_untouched(await gate_of(server, coupon_id), 10)

    match = await post_issue(server, coupon_id, '{"userId":5}', **bearer)
    assert code(match) == (202, "202")
    gate = await gate_of(server, coupon_id)
    assert (gate.gate_stock, gate.gate_users) == (9, frozenset({5}))


@pytest.mark.parametrize("server", [TOKENS], indirect=True)
async def test_case_23_unsigned_expired_or_foreign_tokens_are_401(server: ApiServer) -> None:
    """Case 23. Tokens with `alg: none`, expired, for another audience, with no audience, signed with
    another secret, without `exp`, with a non-numeric subject; and no token at all.

    Expected: every one is 401 A001 and the gate is untouched.
    """
    coupon_id = await loaded_coupon(server)
    now = int(time.time())
    bad = {
        "alg none": unsigned({"sub": "5", "exp": now + 300, "aud": "fcfs"}),
        "expired": token("5", exp_in=-60, aud="fcfs"),
        "wrong audience": token("5", aud="someone-else"),
        "no audience": token("5"),
        "other secret": token("5", secret="o" * 48, aud="fcfs"),
        "no exp": jwt.encode({"sub": "5", "aud": "fcfs"}, SECRET, algorithm="HS256"),
        "subject not an id": token("five", aud="fcfs"),
    }
    answers = {
        name: code(await post_issue(server, coupon_id, "{}", Authorization=f"Bearer {value}"))
        for name, value in bad.items()
    }
    answers["no token"] = code(await post_issue(server, coupon_id, '{"userId":5}'))

    assert answers == dict.fromkeys(answers, (401, "A001")), answers
    assert_untouched(await gate_of(server, coupon_id), 10)


async def test_case_24_a_replayed_idempotency_key_gets_the_same_answer_from_one_attempt(server: ApiServer) -> None:
    """Case 24. 20 concurrent requests, then 5 sequential ones, all user 9 with `Idempotency-Key: k-1`;
    then one with another key.

    Expected: all 25 answers are the first answer byte for byte (202, the same eventId), all but
    one carry `Idempotent-Replayed: true`; the server attempted the issue once (its outcome
    counter reads one 202); the other key attempts again and hears C002; the gate holds 9 + {9}.
    """
    coupon_id = await loaded_coupon(server)
    key = {"Idempotency-Key": "k-1"}
    body = '{"userId":9}'
    concurrent = await asyncio.gather(*(post_issue(server, coupon_id, body, **key) for _ in range(20)))
    sequential = [await post_issue(server, coupon_id, body, **key) for _ in range(5)]
    answers = concurrent + sequential

    assert {answer.content for answer in answers} == {answers[0].content}, {a.content for a in answers}
    assert code(answers[0]) == (202, "202")
    replayed = Counter(answer.headers.get("Idempotent-Replayed") for answer in answers)
    assert replayed == {"true": 24, None: 1}, replayed
    outcomes = scrape(server.base_url)["fcfs_issue_outcomes_total"]
    assert {dict(labels)["code"]: value for labels, value in outcomes.items()} == {"202": 1.0}

    other = await post_issue(server, coupon_id, body, **{"Idempotency-Key": "k-2"})
    assert code(other) == (409, "C002")
    gate = await gate_of(server, coupon_id)
    assert (gate.gate_stock, gate.gate_users) == (9, frozenset({9}))


LIMITED = {"rate_limit_per_ip": 5, "rate_limit_per_user": 100, "rate_limit_window_seconds": 60.0}


@pytest.mark.parametrize(
    "server", [LIMITED, LIMITED | {"trusted_proxies": "10.0.0.0/8"}], indirect=True, ids=["no-proxies", "other-proxies"]
)
async def test_case_25_rotating_x_forwarded_for_from_an_untrusted_peer_is_still_rate_limited(server: ApiServer) -> None:
    """Case 25. 15 users from one untrusted peer (127.0.0.1), each request claiming another client
    address in `X-Forwarded-For` (no trusted proxies, or trusted proxies that do not include the peer).

    Expected: the per-address limit of 5 counts the peer, not the header: 5 × 202 then 10 × 429
    R001 with `Retry-After`; only those 5 users are in the gate.
    """
    coupon_id = await loaded_coupon(server, total=100)
    answers = [
        await post_issue(
            server, coupon_id, f'{{"userId":{100 + i}}}', **{"X-Forwarded-For": f"198.51.100.{i}, 10.1.1.1"}
        )
        for i in range(15)
    ]

    assert [code(answer) for answer in answers] == [(202, "202")] * 5 + [(429, "R001")] * 10
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in answers[5:])
    gate = await gate_of(server, coupon_id)
    assert gate.gate_users == frozenset(range(100, 105)) and gate.gate_stock == 95


HOSTILE_PATH_IDS = [
    "abc", "-1", "0", "01", "1.0", "1e3", "+1", " 1", "0x10", "١", "１", "²",
    "9223372036854775808", "99999999999999999999999", "1%00", "1;DROP", "{c:1}", "*",
]  # fmt: skip
HOSTILE_BODIES: list[str | bytes] = [
    '{"userId":"5"}', '{"userId":-1}', '{"userId":0}', '{"userId":9223372036854775808}', '{"userId":1.5}',
    '{"userId":1e3}', '{"userId":null}', '{"userId":true}', '{"userId":[5]}', '{"userId":{"$gt":0}}',
    '{"userId":"١"}', '{"userId":123456789012345678901234567890}', '{"userId":5,"extra":1}', '{"userid":5}',
    '{"userId":5', "userId=5", "", b"\xff\xfe",
]  # fmt: skip
KEY_SHAPE = re.compile(r"^fcfs-t-[0-9a-f]+:\{c:(\d+)\}:(stock|users|state|idem:.*|rl:.*)$")


async def test_case_26_hostile_ids_are_4xx_and_build_no_redis_key(server: ApiServer) -> None:
    """Case 26. Issue and status requests with non-numeric, signed, zero, padded, hex, unicode-digit,
    out-of-range and injection-like coupon ids, and issue bodies whose `userId` is a string, negative,
    zero, 2^63, fractional, exponent, null, boolean, array, object, unicode digit, 30 digits, with an
    extra field, misspelt, truncated, form-encoded, empty or not UTF-8.

    Expected: every answer is a 4xx (400 G002, or 404 where the router cannot match the path),
    never 2xx or 5xx; the gate is untouched; and every Redis key under the test's prefix is
    one of the real coupon's own keys: no key was built from raw input.
    """
    coupon_id = await loaded_coupon(server)
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        for raw in HOSTILE_PATH_IDS:
            path = raw.replace("%", "%25").replace(" ", "%20").replace(";", "%3B")
            statuses[f"issue {raw!r}"] = (await post_issue(server, path, '{"userId":5}')).status_code
            statuses[f"state {raw!r}"] = (await client.get(f"/api/v1/coupons/{coupon_id}/issued/{path}")).status_code
            statuses[f"read {raw!r}"] = (await client.get(f"/api/v1/coupons/{path}")).status_code
        for body in HOSTILE_BODIES:
            statuses[f"body {body!r}"] = (await post_issue(server, coupon_id, body)).status_code

    not_4xx = {what: status for what, status in statuses.items() if not 400 <= status < 500}
    assert not not_4xx, not_4xx
    assert_untouched(await gate_of(server, coupon_id), 10)
    settings = server.settings
    redis_client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        keys = [key async for key in redis_client.scan_iter(match=f"{settings.redis_prefix}:*", count=1000)]
    finally:
        await redis_client.aclose()
    shapes = [KEY_SHAPE.match(key) for key in keys]
    assert all(shapes) and {shape[1] for shape in shapes if shape} == {str(coupon_id)}, keys


@pytest.mark.parametrize("server", [{"admin_token": ADMIN}], indirect=True)
async def test_case_27_an_unauthenticated_stock_reload_is_401_and_changes_nothing(server: ApiServer) -> None:
    """Case 27. After 3 users were admitted (stock 7 left), stock reloads are sent with no token, a wrong
    token, the token as a Basic credential, and the token with a trailing character; and a delete
    with no token.

    Expected: every one is 401 A001; the gate still holds 7 + the 3 users; the coupon still exists.
    """
    coupon_id = await loaded_coupon(server)
    for user in (1, 2, 3):
        assert code(await post_issue(server, coupon_id, f'{{"userId":{user}}}')) == (202, "202")
    attempts = {
        "no token": {},
        "wrong token": {"Authorization": "Bearer not-the-token"},
        "basic": {"Authorization": f"Basic {ADMIN}"},
        "token plus one": {"Authorization": f"Bearer {ADMIN}x"},
    }
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        answers = {
            name: code(await client.post(f"/api/v1/coupons/{coupon_id}/stock", json={"quantity": 10}, headers=headers))
            for name, headers in attempts.items()
        }
        answers["delete"] = code(await client.delete(f"/api/v1/coupons/{coupon_id}"))
        still_there = (await client.get(f"/api/v1/coupons/{coupon_id}")).status_code

    assert answers == dict.fromkeys(answers, (401, "A001")), answers
    assert still_there == 200
    gate = await gate_of(server, coupon_id)
    assert (gate.gate_stock, gate.gate_users) == (7, frozenset({1, 2, 3}))
