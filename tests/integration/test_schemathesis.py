"""schemathesis against `/schema` of a live server (granian, real MariaDB + Redis): for every operation,
no 5xx and every response as the schema documents it (status, content type, headers, body)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

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
def live_schema(
    mariadb_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    """One server for the whole module, on a database of its own (created and dropped here)."""
    name = asyncio.run(_create_database(mariadb_server_url))
    prefix = f"fcfs-t-{uuid.uuid4().hex[:10]}"
    fcfs = Settings(
        database_url=f"{mariadb_server_url}/{name}", redis_url=redis_server_url, redis_prefix=prefix, strategy="lua"
    )
    log_dir: Path = tmp_path_factory.mktemp("schemathesis")
    process, base_url = start_server(fcfs, 1, log_dir)
    try:
        for _ in EXISTING:
            create_coupon(base_url, 10_000, "schemathesis")
        yield schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    finally:
        stop(process)
        asyncio.run(_drop_database(mariadb_server_url, name))
        asyncio.run(_forget_keys(redis_server_url, prefix))


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
OPERATIONS = [
    ("POST", "/api/v1/coupons"),
    ("GET", "/api/v1/coupons/{coupon_id}"),
    ("POST", "/api/v1/coupons/{coupon_id}/stock"),
    ("POST", "/api/v1/coupons/{coupon_id}/issue"),
    ("GET", "/api/v1/coupons/{coupon_id}/issued/{user_id}"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/coupons/{coupon_id}/audit"),
    ("DELETE", "/api/v1/coupons/{coupon_id}"),  # last: it removes the coupons the others aim at
]


def test_the_schema_documents_exactly_the_operations_tested_here(live_schema: schemathesis.BaseSchema) -> None:
    documented = {(result.ok().method.upper(), result.ok().path) for result in live_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


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
