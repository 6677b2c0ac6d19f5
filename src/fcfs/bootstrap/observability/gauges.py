"""Gauges that mirror state owned elsewhere: the issue bulkhead's places and the database pool's checkouts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import event

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from fcfs.bootstrap.bulkhead import BulkheadState
    from fcfs.bootstrap.observability.metrics import Metrics


def bulkhead_observer(metrics: Metrics) -> Callable[[BulkheadState], None]:
    """Mirrors a bulkhead's state into the gauges, writing only the values that changed."""
    seen = [0, 0, 0]  # in flight, waiting, rejected
    buffer = metrics.buffer

    def observe(state: BulkheadState) -> None:
        if state.in_flight != seen[0]:
            seen[0] = state.in_flight
            buffer.set(metrics.bulkhead_in_flight, state.in_flight)
        if state.waiting != seen[1]:
            seen[1] = state.waiting
            buffer.set(metrics.bulkhead_waiting, state.waiting)
        if state.rejected > seen[2]:
            buffer.inc(metrics.bulkhead_rejected, state.rejected - seen[2])
            seen[2] = state.rejected

    return observe


def watch_pool(engine: AsyncEngine, metrics: Metrics) -> None:
    """`fcfs_db_pool_in_use` follows the engine's connection checkouts and checkins."""
    gauge = metrics.db_pool_in_use
    event.listen(engine.sync_engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: gauge.dec())
