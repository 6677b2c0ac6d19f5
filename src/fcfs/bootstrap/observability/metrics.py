"""Prometheus metrics: one set per process, summed over granian's worker processes.

The names below are a contract: the Grafana dashboard in `deploy/` queries exactly these.
`fcfs serve` sets `PROMETHEUS_MULTIPROC_DIR` (a fresh, emptied directory) before any worker
exists; each worker then writes its values to files there and any worker's `/metrics`
answers for all of them. Without that variable (a library user, a test) the process keeps
its own registry. Nothing is created at import time: `process_metrics()` builds the set on
first use.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from fcfs.bootstrap.observability.turn_buffer import TurnBuffer

if TYPE_CHECKING:
    from collections.abc import Iterator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000)


class Metrics:
    """Every metric fcfs exports. Gauges of per-process state are summed over live workers."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        _use_multiprocess_values_if_configured()
        self.registry = registry or CollectorRegistry()
        self.buffer = TurnBuffer()  # the issue path's updates, written once per event-loop turn
        r = self.registry
        self.issue_outcomes = Counter(
            "fcfs_issue_outcomes", "Issue attempts by envelope code and strategy", ["code", "strategy"], registry=r
        )
        self.issue_latency = Histogram(
            "fcfs_issue_latency_seconds", "Issue use case latency", ["strategy"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.gate_seconds = Histogram("fcfs_gate_seconds", "Gate try_issue calls", buckets=LATENCY_BUCKETS, registry=r)
        self.publish_seconds = Histogram(
            "fcfs_publish_seconds", "Broker publish calls", buckets=LATENCY_BUCKETS, registry=r
        )
        self.insert_seconds = Histogram(
            "fcfs_insert_seconds", "Issued-row inserts (one row or one batch)", buckets=LATENCY_BUCKETS, registry=r
        )
        self.consumer_lag = Gauge(
            "fcfs_consumer_lag", "Records not yet committed by the consumer group", multiprocess_mode="mostrecent",
            registry=r,
        )  # fmt: skip
        self.consumer_batch_size = Histogram(
            "fcfs_consumer_batch_size", "Records per consumed batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.dead_letters = Counter("fcfs_dead_letters", "Dead letters written by reason", ["reason"], registry=r)
        self.bulkhead_in_flight = Gauge(
            "fcfs_bulkhead_in_flight", "Issue calls inside the bulkhead", multiprocess_mode="livesum", registry=r
        )
        self.bulkhead_waiting = Gauge(
            "fcfs_bulkhead_waiting", "Issue calls waiting for the bulkhead", multiprocess_mode="livesum", registry=r
        )
        self.bulkhead_rejected = Counter("fcfs_bulkhead_rejected", "Issue calls shed by the bulkhead", registry=r)
        self.db_pool_in_use = Gauge(
            "fcfs_db_pool_in_use", "Database connections checked out", multiprocess_mode="livesum", registry=r
        )
        self.http_requests = Counter(
            "fcfs_http_requests", "HTTP responses by method, route and status", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip

    def exposition(self) -> bytes:
        """The text format for `/metrics`: every worker's values in multiprocess mode, else this process's."""
        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)
        return generate_latest(merged)


CONTENT_TYPE = CONTENT_TYPE_LATEST


@functools.cache
def process_metrics() -> Metrics:
    """The process's one set of metrics (created on first use, after any fork)."""
    return Metrics()


@contextlib.contextmanager
def multiprocess_dir(data_dir: Path) -> Iterator[Path]:
    """Set `PROMETHEUS_MULTIPROC_DIR` for this process and its children, emptied; remove it after if we made it.

    Must run before any worker process starts (and before `prometheus_client` is imported
    in this process, which the cli ensures). An operator-set directory is emptied, not removed.
    """
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(data_dir).resolve() / "metrics" / f"serve-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def forget_this_process() -> None:
    """Drop this worker's live gauges (in-flight, waiting, pool) from the sums when it exits."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid(), directory)


_pid = [0]


def _cached_pid() -> int:
    """prometheus_client asks for the pid on every write (a syscall); a fork hook keeps it current for free."""
    return _pid[0]


def _use_multiprocess_values_if_configured() -> None:
    """prometheus_client picks its value class when first imported; a forked worker may have inherited the wrong one."""
    from prometheus_client import values

    if os.environ.get(MULTIPROC_ENV) and not getattr(values.ValueClass, "_fcfs_cached_pid", False):
        if not _pid[0]:
            _pid[0] = os.getpid()
            os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))
        value_class = values.MultiProcessValue(process_identifier=_cached_pid)
        value_class._fcfs_cached_pid = True
        values.ValueClass = value_class
