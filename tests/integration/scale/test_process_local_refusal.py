"""A scaled-out deployment refuses the strategies that coordinate in process memory, unless the lab forces them.

No service is needed: the registry decides from the settings alone (the in-process twins stand
in for the backends).
"""

from __future__ import annotations

import pytest

from fcfs import Settings
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.plugins import discover, scale_out
from fcfs.domain.errors import StrategyUnavailable

FACTORIES = discover()
LOCAL = sorted(name for name, factory in FACTORIES.items() if not factory.cross_process_safe)
SAFE = sorted(name for name, factory in FACTORIES.items() if factory.cross_process_safe)
SCALED_OUT = [
    pytest.param(Settings(instances=2), "FCFS_INSTANCES", id="two-instances"),
    pytest.param(Settings(redis_cluster=True), "FCFS_REDIS_CLUSTER", id="redis-cluster"),
]


@pytest.mark.parametrize(("settings", "cause"), SCALED_OUT)
@pytest.mark.parametrize("name", LOCAL)
async def test_a_scaled_out_deployment_refuses_every_process_local_strategy(
    name: str, settings: Settings, cause: str
) -> None:
    async with open_memory_services(settings) as services:
        with pytest.raises(StrategyUnavailable) as refused:
            services.strategies.get(name)

    assert cause in refused.value.detail
    assert "FCFS_ALLOW_PROCESS_LOCAL" in refused.value.detail


@pytest.mark.parametrize(("settings", "cause"), SCALED_OUT)
async def test_a_scaled_out_deployment_still_builds_every_cross_process_safe_strategy(
    settings: Settings, cause: str
) -> None:
    async with open_memory_services(settings) as services:
        built = [services.strategies.get(name).name for name in SAFE]

    assert built == SAFE


async def test_the_lab_may_force_process_local_strategies_on_a_scaled_out_deployment() -> None:
    settings = Settings.from_env({"FCFS_INSTANCES": "2", "FCFS_ALLOW_PROCESS_LOCAL": "true"})

    async with open_memory_services(settings) as services:
        built = [services.strategies.get(name).name for name in LOCAL]

    assert built == LOCAL
    assert scale_out(settings) is None


def test_one_instance_without_a_cluster_is_not_scaled_out() -> None:
    assert Settings().allow_process_local is False
    assert scale_out(Settings()) is None
    assert scale_out(Settings(instances=3, redis_cluster=True)) == (
        "across 3 API instances (FCFS_INSTANCES) and with Redis Cluster (FCFS_REDIS_CLUSTER)"
    )
