"""Finding or starting the real services integration tests need.

Order: an explicit `FCFS_TEST_*` URL; the local service on its default loopback port;
a testcontainers container when a Docker engine answers; otherwise the test fails
(CI=true) or is skipped, with a message naming what is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest

from tests.support.redis_cluster import ClusterUnavailable, RedisTestCluster, running_cluster

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def docker_available() -> bool:
    try:
        import docker  # noqa: PLC0415

        docker.from_env().ping()
    except Exception:  # noqa: BLE001  (any failure means: no engine)
        return False
    return True


def missing(what: str) -> None:
    message = f"{what} is not reachable; run `make services` or set the FCFS_TEST_* URL (see README)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def cluster_for_test(primaries: int = 3) -> Iterator[RedisTestCluster]:
    """A fixture's body: `running_cluster`, or the test skipped (failed in CI) when no binary can run one."""
    try:
        with running_cluster(primaries) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        missing(str(exc))
