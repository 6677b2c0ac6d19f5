"""A real 3-primary Redis Cluster on loopback: one shared by this package's tests, or a fresh one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster_support import ClusterUnavailable, RedisTestCluster, running_cluster
from tests.integration.services import missing


def _cluster() -> Iterator[RedisTestCluster]:
    try:
        with running_cluster(primaries=3) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        missing(str(exc))


@pytest.fixture(scope="package")
def redis_cluster() -> Iterator[RedisTestCluster]:
    """Shared by the tests that only read the topology; keys are per test (`redis_prefix`)."""
    yield from _cluster()


@pytest.fixture
def fresh_cluster() -> Iterator[RedisTestCluster]:
    """A cluster of this test's own, for tests that move slots."""
    yield from _cluster()
