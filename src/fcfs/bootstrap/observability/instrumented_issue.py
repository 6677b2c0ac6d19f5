"""The outermost decorator of the issue use case: every attempt counted by the code it was answered with.

It changes no behaviour: it delegates and records, so use cases, strategies and adapters
stay unaware of metrics. Per-request cost is two dictionary look-ups and two buffered
writes (see `turn_buffer`); labelled children are created once per label.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from fcfs.domain.errors import FcfsError
from fcfs.ports.use_cases import IssuesCoupons

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

    from fcfs.bootstrap.observability.metrics import Metrics
    from fcfs.domain.issuance import IssueCommand, IssueOutcome


class StrategyNames(Protocol):
    """What the decorator asks of the strategy catalog: the default name, and whether a name resolves."""

    @property
    def default_name(self) -> str: ...

    def get(self, name: str | None = None) -> object: ...


class InstrumentedIssueCoupon(IssuesCoupons):
    """`fcfs_issue_outcomes_total{code,strategy}` and `fcfs_issue_latency_seconds{strategy}` per attempt."""

    def __init__(self, inner: IssuesCoupons, strategies: StrategyNames, metrics: Metrics) -> None:
        self._inner = inner
        self._strategies = strategies
        self._metrics = metrics
        self._known: set[str] = set()
        self._outcomes: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        label = self._label(strategy)
        started = time.perf_counter()
        code = "G001"
        try:
            outcome = await self._inner.execute(command, strategy)
            code = outcome.status.code.code
            return outcome
        except FcfsError as error:
            code = error.code.code
            raise
        finally:
            buffer = self._metrics.buffer
            buffer.observe(self._latency_of(label), time.perf_counter() - started)
            buffer.inc(self._outcome_of(code, label))

    def _latency_of(self, label: str) -> Histogram:
        child = self._latency.get(label)
        if child is None:
            child = self._latency[label] = self._metrics.issue_latency.labels(label)
        return child

    def _outcome_of(self, code: str, label: str) -> Counter:
        child = self._outcomes.get((code, label))
        if child is None:
            child = self._outcomes[(code, label)] = self._metrics.issue_outcomes.labels(code, label)
        return child

    def _label(self, strategy: str | None) -> str:
        """A requested name becomes a label only once it resolved, so labels cannot be invented by requests."""
        if strategy is None:
            return self._strategies.default_name
        if strategy in self._known:
            return strategy
        try:
            self._strategies.get(strategy)
        except FcfsError:
            return "unknown"
        self._known.add(strategy)
        return strategy
