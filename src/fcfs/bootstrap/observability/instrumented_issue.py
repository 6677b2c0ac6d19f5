"""The outermost decorator of the issue use case: every answer counted by its code, for the metrics and the live view.

It changes no behaviour: it delegates and records, so use cases, strategies and adapters
stay unaware of metrics. It sees every answer the use case gives (the sold-out shortcut's
and the bulkhead's too); refusals decided before the use case (bad input, tokens, rate
limits) are not issue attempts and reach neither record.

Why one decorator for both records (the metrics, and the live view's per-coupon,
per-second tally of docs/design.md §10): both need the code of the same answer, and every
layer of the issue chain costs each attempt a coroutine, an exception handler and a
look-up of that code. Per attempt: two buffered metric writes (see `turn_buffer`) and
one tally count (a dictionary update); labelled children are created once per label.
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
    from fcfs.ports.live import AnswerTally

UNEXPECTED = "G001"  # what the API answers an unexpected failure with


class StrategyNames(Protocol):
    """What the decorator asks of the strategy catalog: the default name, and whether a name resolves."""

    @property
    def default_name(self) -> str: ...

    def get(self, name: str | None = None) -> object: ...


class _NoTally:
    """Stands in when no live view is wired (a test of the metrics alone), so the hot path has no branch."""

    def count(self, coupon_id: int, code: str) -> None:
        pass


class InstrumentedIssueCoupon(IssuesCoupons):
    """`fcfs_issue_outcomes_total{code,strategy}` and `fcfs_issue_latency_seconds{strategy}` per attempt,
    and the attempt's code in the live view's `tally`.

    An unexpected failure (not an `FcfsError`) is counted `G001` in the metrics, as the API
    answers it, and left out of the tally, which holds only the use case's answers.
    """

    def __init__(
        self, inner: IssuesCoupons, strategies: StrategyNames, metrics: Metrics, tally: AnswerTally | None = None
    ) -> None:
        self._inner = inner
        self._strategies = strategies
        self._metrics = metrics
        self._buffer = metrics.buffer
        self._tally: AnswerTally = tally if tally is not None else _NoTally()
        self._known: set[str] = set()
        self._outcomes: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        label = self._strategies.default_name if strategy is None else self._label(strategy)
        started = time.perf_counter()
        try:
            outcome = await self._inner.execute(command, strategy)
        except FcfsError as error:
            code = error.code.code
            self._record(label, code, started)
            self._tally.count(command.coupon_id, code)
            raise
        except BaseException:
            self._record(label, UNEXPECTED, started)
            raise
        code = outcome.status.code.code
        self._record(label, code, started)
        self._tally.count(command.coupon_id, code)
        return outcome

    def _record(self, label: str, code: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        latency = self._latency.get(label)
        if latency is None:
            latency = self._latency[label] = self._metrics.issue_latency.labels(label)
        outcome = self._outcomes.get((code, label))
        if outcome is None:
            outcome = self._outcomes[(code, label)] = self._metrics.issue_outcomes.labels(code, label)
        self._buffer.observe(latency, elapsed)
        self._buffer.inc(outcome)

    def _label(self, strategy: str) -> str:
        """A requested name becomes a label only once it resolved, so labels cannot be invented by requests."""
        if strategy in self._known:
            return strategy
        try:
            self._strategies.get(strategy)
        except FcfsError:
            return "unknown"
        self._known.add(strategy)
        return strategy
