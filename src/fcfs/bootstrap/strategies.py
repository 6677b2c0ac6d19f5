"""Finds strategies by entry point and builds each once, refusing those the backends cannot serve."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, cast

from fcfs.domain.errors import StrategyUnavailable, UnknownStrategy
from fcfs.ports.strategy import Capability, IssueStrategy, StrategyCatalog, StrategyFactory, StrategyKit

if TYPE_CHECKING:
    from collections.abc import Iterable

GROUP = "fcfs.strategies"


def discover(extra: Iterable[EntryPoint] = ()) -> dict[str, StrategyFactory]:
    """Every installed strategy class, keyed by its entry-point name (later names win)."""
    found: dict[str, StrategyFactory] = {}
    for point in [*entry_points(group=GROUP), *extra]:
        found[point.name] = cast("StrategyFactory", point.load())
    return found


def unavailable_reason(factory: StrategyFactory, capabilities: frozenset[Capability]) -> str | None:
    missing = sorted(factory.needs - capabilities)
    if not missing:
        return None
    return f"needs {', '.join(missing)}, which the configured backends do not provide"


class StrategyRegistry(StrategyCatalog):
    """Builds strategies lazily from one shared kit, so process-local locks are shared per process."""

    def __init__(self, factories: dict[str, StrategyFactory], kit: StrategyKit, default: str) -> None:
        self._factories = factories
        self._kit = kit
        self._default = default
        self._built: dict[str, IssueStrategy] = {}

    @property
    def default_name(self) -> str:
        return self._default

    @property
    def factories(self) -> dict[str, StrategyFactory]:
        return dict(self._factories)

    def get(self, name: str | None = None) -> IssueStrategy:
        name = name or self._default
        built = self._built.get(name)
        if built is not None:
            return built
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownStrategy(f"unknown strategy {name!r}; known: {', '.join(sorted(self._factories))}")
        reason = unavailable_reason(factory, self._kit.capabilities)
        if reason is not None:
            raise StrategyUnavailable(f"strategy {name!r} {reason}")
        built = self._built[name] = factory(self._kit)
        return built
