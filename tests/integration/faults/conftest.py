"""Fixtures for the reliability suite: services of the test's own to break, proxies, and lua-async settings.

Nothing here touches the shared services beyond the test's own database, key prefix and
topics: a Redis to kill is started per test (never the shared one on 6379), a broker to
kill is the `tansu` fixture's or one started here, and MariaDB is only ever hurt through a
proxy or by killing the test database's own connections.
"""

from __future__ import annotations

import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fcfs import Settings
from fcfs.entrypoints.embedded import EmbeddedProcess, free_port, start_redis, tansu_binary, wait_for_port
from tests.support.fault_proxy import FaultProxy, ProxiedBroker, ProxyFactory
from tests.support.pipeline import SettingsFactory, pipeline_settings


@pytest.fixture
def own_redis() -> Iterator[EmbeddedProcess]:
    """A redis-server of this test's own on a free port (no persistence: a kill loses its state)."""
    server = start_redis(Path(tempfile.mkdtemp(prefix="fcfs-faults-redis-")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxies() -> Iterator[ProxyFactory]:
    """`proxies(host, port, framed=False)`: a started `FaultProxy`, closed after the test."""
    started: list[FaultProxy] = []

    def make(upstream_host: str, upstream_port: int, **options: Any) -> FaultProxy:
        proxy = FaultProxy(upstream_host, upstream_port, **options).start()
        started.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in started:
            proxy.close()


@pytest.fixture
def proxied_broker(proxies: ProxyFactory) -> Iterator[ProxiedBroker]:
    port, proxy_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="fcfs-faults-tansu-"))
    argv = [tansu_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}", "--storage-engine", "memory://fcfs/"]  # fmt: skip
    with (workdir / "tansu.log").open("ab") as log:
        process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    broker = EmbeddedProcess("tansu", port, process, workdir, argv)
    try:
        wait_for_port(port, process=broker.process)
        yield ProxiedBroker(broker, proxies("127.0.0.1", port, port=proxy_port, framed=True))
    finally:
        broker.stop()


@pytest.fixture
def lua_async(
    database_url: str, kafka_bootstrap: str, redis_server_url: str, redis_prefix: str, tmp_path: Path
) -> SettingsFactory:
    """`lua_async(**overrides)`: settings for the default pipeline (Redis gate → broker → consumer → MariaDB).

    Defaults: the shared broker and Redis (own topics, group and key prefix), short timeouts so a
    fault shows up in seconds, reconciliation with no grace (tests call it only once drained).
    """

    def make(**overrides: Any) -> Settings:
        topics = overrides.pop("topics", None) or (
            f"faults.{uuid.uuid4().hex[:8]}",
            f"faults.dlt.{uuid.uuid4().hex[:8]}",
        )
        bootstrap = overrides.pop("kafka_bootstrap_servers", kafka_bootstrap)
        values: dict[str, Any] = {
            "redis_url": redis_server_url,
            "redis_prefix": redis_prefix,
            "strategy": "lua-async",
            "redis_timeout": 1.0,
            "producer_send_timeout": 3.0,
            "reconcile_grace_seconds": 0.0,
            "consumer_retry_max_seconds": 0.5,
            "sold_out_ttl_seconds": 0.0,
        }
        values.update(overrides)
        database = values.pop("database_url", database_url)
        return pipeline_settings(database, bootstrap, topics, values.pop("data_dir", tmp_path), **values)

    return make
