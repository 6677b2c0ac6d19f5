"""The entry-point seam: every built-in strategy is a plugin, and so can anyone else's be."""

from __future__ import annotations

import inspect
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points

import pytest

from fcfs.bootstrap.plugins import GROUP, StrategyRegistry, discover
from fcfs.domain.errors import StrategyUnavailable
from fcfs.domain.issuance import IssueCommand, IssueStatus
from fcfs.ports.strategy import Capability, StrategyFactory
from tests.support.memory_world import MemoryWorld
from tests.support.plugin_strategy import EchoStrategy

CROSS_PROCESS_SAFE = {  # docs/design.md §7
    "no-lock": False,
    "synchronized": False,
    "synchronized-commit": False,
    "reentrant-lock": False,
    "semaphore": True,
    "atomic": False,
    "atomic-query": True,
    "pessimistic-lock": True,
    "distributed-lock": True,
    "spin-lock": True,
    "lua": True,
    "lua-async": True,
}
ECHO = EntryPoint(name="echo", value="tests.support.plugin_strategy:EchoStrategy", group=GROUP)


def installed() -> dict[str, StrategyFactory]:
    return {point.name: point.load() for point in entry_points(group=GROUP)}


def test_the_twelve_strategies_are_installed_under_their_names() -> None:
    assert set(installed()) == set(CROSS_PROCESS_SAFE)


@pytest.mark.parametrize("name", sorted(CROSS_PROCESS_SAFE))
def test_each_strategy_describes_itself(name: str) -> None:
    (point,) = entry_points(group=GROUP, name=name)
    loaded = point.load()
    factory: StrategyFactory = loaded

    assert inspect.iscoroutinefunction(loaded.issue)
    assert inspect.isclass(loaded)
    assert factory.name == name
    assert factory.description.strip()
    assert "\n" not in factory.description
    assert factory.cross_process_safe is CROSS_PROCESS_SAFE[name]
    assert isinstance(factory.needs, frozenset)
    assert factory.needs
    assert all(isinstance(need, Capability) for need in factory.needs)


@pytest.mark.parametrize("name", sorted(CROSS_PROCESS_SAFE))
def test_each_strategy_is_built_from_a_full_kit(name: str) -> None:
    world = MemoryWorld()

    strategy = installed()[name](world.kit)

    assert strategy.name == name


@pytest.mark.parametrize(("name", "port"), [("lua", "gate"), ("lua-async", "publisher"), ("spin-lock", "spin_lock")])
def test_a_strategy_refuses_a_kit_without_a_port_it_needs(name: str, port: str) -> None:
    kit = replace(MemoryWorld().kit, **{port: None})  # type: ignore[arg-type]

    with pytest.raises(StrategyUnavailable):
        installed()[name](kit)


def test_a_third_party_entry_point_resolves_to_a_strategy_factory() -> None:
    factory: StrategyFactory = ECHO.load()  # mypy checks EchoStrategy against the protocol here

    assert factory is EchoStrategy
    assert (factory.name, factory.cross_process_safe, factory.needs) == ("echo", True, frozenset({Capability.SQL}))
    assert factory.description == "Reports the user's existing row and issues nothing"


async def test_a_third_party_strategy_runs_against_the_kit_through_the_registry() -> None:
    world = MemoryWorld()
    coupon = await world.coupon(5)
    registry = StrategyRegistry(discover(extra=[ECHO]), world.kit, default="pessimistic-lock")
    await registry.get().issue(IssueCommand(coupon.id, 7))

    echo = registry.get("echo")

    assert (await echo.issue(IssueCommand(coupon.id, 7))).status is IssueStatus.ALREADY_ISSUED
    assert (await echo.issue(IssueCommand(coupon.id, 8))).status is IssueStatus.SOLD_OUT
    assert len(world.rows(coupon.id)) == 1
