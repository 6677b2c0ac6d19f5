"""Finds strategies by entry point and builds each once, refusing those the backends or the deployment cannot serve."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, cast

from fcfs.domain.errors import StrategyUnavailable, UnknownStrategy
from fcfs.ports.strategy import Capability, IssueStrategy, StrategyCatalog, StrategyFactory, StrategyKit

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fcfs.bootstrap.settings import Settings

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


def scale_out(settings: Settings) -> str | None:
    """Why process memory is not one coordination point here (None: it is, or the lab forces it).

    Several API instances (`FCFS_INSTANCES` > 1) or a Redis Cluster (which only a sale bigger
    than one machine uses) mean several processes serve one coupon, and a strategy that
    coordinates in process memory would then over-issue. `FCFS_ALLOW_PROCESS_LOCAL` lets the
    lab run them anyway, to show exactly that.
    """
    if settings.allow_process_local:
        return None
    causes = []
    if settings.instances > 1:
        causes.append(f"across {settings.instances} API instances (FCFS_INSTANCES)")
    if settings.redis_cluster:
        causes.append("with Redis Cluster (FCFS_REDIS_CLUSTER)")
    return " and ".join(causes) or None


class StrategyRegistry(StrategyCatalog):
    """Builds strategies lazily from one shared kit, so process-local locks are shared per process.

    With `scaled_out` (a reason, from `scale_out`) it refuses every strategy that is not
    `cross_process_safe`, so a scaled-out deployment cannot run one by configuration or `?strategy=`.
    """

    def __init__(
        self, factories: dict[str, StrategyFactory], kit: StrategyKit, default: str, scaled_out: str | None = None
    ) -> None:
        self._factories = factories
        self._kit = kit
        self._default = default
        self._scaled_out = scaled_out
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
        if self._scaled_out and not factory.cross_process_safe:
            raise StrategyUnavailable(
                f"strategy {name!r} coordinates in process memory and cannot run {self._scaled_out}; "
                "choose one that is safe across processes (`fcfs strategies`), "
                "or set FCFS_ALLOW_PROCESS_LOCAL=true to run it anyway (the lab)"
            )
        built = self._built[name] = factory(self._kit)
        return built
