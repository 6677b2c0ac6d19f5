"""schemathesis against `/schema` of a live server (granian, real MariaDB + Redis): for every operation,
no 5xx and every response as the schema documents it (status, content type, headers, body).

The schema documents exactly the operations fuzzed here plus the two event streams, whose refusals
are checked instead; the console page is served and stays out of the schema."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fcfs import Settings
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def _create_database(server_url: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from fcfs.adapters.sql.migrate import upgrade

    name = f"fcfs_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}`"))
    await admin.dispose()
    await upgrade(f"{server_url}/{name}")
    return name


async def _drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    await admin.dispose()


@pytest.fixture(scope="module")
def live_settings(mariadb_server_url: str, redis_server_url: str) -> Iterator[Settings]:
    """A database and a Redis prefix of the module's own (created and removed here), shared by its servers."""
    name = asyncio.run(_create_database(mariadb_server_url))
    prefix = f"fcfs-t-{uuid.uuid4().hex[:10]}"
    try:
        yield Settings(
            database_url=f"{mariadb_server_url}/{name}", redis_url=redis_server_url, redis_prefix=prefix, strategy="lua"
        )
    finally:
        asyncio.run(_drop_database(mariadb_server_url, name))
        asyncio.run(_forget_keys(redis_server_url, prefix))


@pytest.fixture(scope="module")
def base_url(live_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One open server (no admin token) for the whole module, with the `EXISTING` coupons."""
    process, url = start_server(live_settings, 1, tmp_path_factory.mktemp("schemathesis"))
    try:
        for _ in EXISTING:
            create_coupon(url, 10_000, "schemathesis")
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def live_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")


@pytest.fixture(scope="module")
def guarded_url(live_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server on the same database and keys, with an admin token and user tokens on: the 401s."""
    guarded = dataclasses.replace(live_settings, admin_token="schemathesis-admin", user_token_secret="s" * 32)
    process, url = start_server(guarded, 1, tmp_path_factory.mktemp("schemathesis-guarded"))
    try:
        yield url
    finally:
        stop(process)


async def _forget_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


EXISTING = ("1", "2", "3")  # coupons the fixture creates in its fresh database, so ids can hit real ones
MISSING = "999999"  # a coupon id the fresh database never reaches
OPERATIONS = [  # fuzzed: generated inputs, every answer checked against the schema
    ("POST", "/api/v1/coupons"),
    ("GET", "/api/v1/coupons/{coupon_id}"),
    ("POST", "/api/v1/coupons/{coupon_id}/stock"),
    ("POST", "/api/v1/coupons/{coupon_id}/issue"),
    ("GET", "/api/v1/coupons/{coupon_id}/issued/{user_id}"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/coupons/{coupon_id}/audit"),
    ("POST", "/api/v1/coupons/{coupon_id}/pause"),
    ("POST", "/api/v1/coupons/{coupon_id}/resume"),
    ("POST", "/api/v1/coupons/{coupon_id}/close"),  # after the others: closing is final
    ("DELETE", "/api/v1/coupons/{coupon_id}"),  # last: it removes the coupons the others aim at
]
# Server-Sent Events, not fuzzed: their 200 is a stream that a request waits on to its end, and the live view's
# ends after an hour, the result stream's only on a terminal state. Their refusals (the envelope, decided before
# the first byte) are checked against the schema instead.
STREAMS = [
    ("GET", "/api/v1/coupons/{coupon_id}/live"),
    ("GET", "/api/v1/coupons/{coupon_id}/issued/{user_id}/stream"),
]
CONSOLE = "/console/coupons/{coupon_id}"  # an HTML page for people, kept out of the schema on purpose


def test_the_schema_documents_exactly_the_operations_tested_here(live_schema: schemathesis.BaseSchema) -> None:
    documented = {(result.ok().method.upper(), result.ok().path) for result in live_schema.get_all_operations()}
    assert documented == set(OPERATIONS) | set(STREAMS)


def test_the_console_page_is_served_but_not_documented(live_schema: schemathesis.BaseSchema, base_url: str) -> None:
    page = httpx.get(base_url + CONSOLE.format(coupon_id=EXISTING[0]), timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert CONSOLE not in {result.ok().path for result in live_schema.get_all_operations()}


@pytest.mark.timeout(60)  # a stream answered 200 by mistake would hold the request open
@pytest.mark.parametrize(("method", "path"), STREAMS)
def test_every_stream_refuses_as_documented_before_its_first_byte(
    live_schema: schemathesis.BaseSchema, guarded_url: str, method: str, path: str
) -> None:
    """A malformed id is 400 and a missing coupon 404 on the open server; no token is 401 on the guarded one."""
    operation = live_schema[path][method]
    ids = {name: "1" for name in ("coupon_id", "user_id") if f"{{{name}}}" in path}
    refusals = [
        ({**ids, "coupon_id": "not-an-id"}, None, 400),
        ({**ids, "coupon_id": MISSING}, None, 404),
        (ids, guarded_url, 401),
    ]
    for parameters, server, status in refusals:
        answer = operation.Case(path_parameters=parameters).call_and_validate(
            base_url=server, checks=CHECKS, timeout=10
        )
        assert answer.status_code == status, (parameters, server, answer.text)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_answers_as_documented_and_never_5xx(
    live_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    """Generated inputs (valid and invalid) for one operation; modest example counts keep the module under 2 min."""
    operation = live_schema[path][method]
    cases = operation.as_strategy()
    if "{coupon_id}" in path:
        cases = st.tuples(cases, st.sampled_from((None, *EXISTING))).map(_with_coupon)

    @given(case=cases)
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    answers_as_documented()


def _with_coupon(drawn: tuple[schemathesis.Case, str | None]) -> schemathesis.Case:
    """Most cases aim at an existing coupon, so issue, stock and delete get past "not found"."""
    case, coupon_id = drawn
    if coupon_id is not None and case.path_parameters is not None:
        case.path_parameters["coupon_id"] = coupon_id
    return case
