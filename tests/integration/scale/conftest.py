"""A real 3-primary Redis Cluster on loopback (shared, or a fresh one per test) and lua-async settings on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fcfs import Settings
from tests.support.deployment import ClusterSettings, scale_settings
from tests.support.redis_cluster import RedisTestCluster
from tests.support.services import cluster_for_test


@pytest.fixture(scope="package")
def redis_cluster() -> Iterator[RedisTestCluster]:
    """Shared by the tests that only read the topology; keys are per test (`redis_prefix`)."""
    yield from cluster_for_test()


@pytest.fixture
def fresh_cluster() -> Iterator[RedisTestCluster]:
    """A cluster of this test's own, for tests that move slots."""
    yield from cluster_for_test()


@pytest.fixture
def cluster_settings(
    database_url: str, kafka_bootstrap: str, topics: tuple[str, str], redis_prefix: str, tmp_path: Path
) -> ClusterSettings:
    """`cluster_settings(cluster, **overrides)`: lua-async on `cluster` with this test's database, topics and prefix."""

    def make(cluster: RedisTestCluster, **overrides: object) -> Settings:
        return scale_settings(
            database_url=database_url,
            cluster_url=cluster.url,
            kafka_bootstrap=kafka_bootstrap,
            topics=topics,
            prefix=redis_prefix,
            data_dir=tmp_path,
            **overrides,
        )

    return make
