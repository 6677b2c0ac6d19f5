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
    """Mirrors a bulkhead's state into the gauges, writing only the values that changed.

    The state is read once, at the end of the event-loop turn in which it changed (the turn
    buffer's flush, where buffered gauge values would be written too): every attempt changes
    it twice (a place taken, then given back), and each change then costs one test.
    """
    seen = [0, 0, 0]  # in flight, waiting, rejected
    changed: list[BulkheadState] = []  # the state to mirror at this turn's flush; empty when none is due
    buffer = metrics.buffer

    def write() -> None:
        state = changed.pop()
        if state.in_flight != seen[0]:
            seen[0] = state.in_flight
            metrics.bulkhead_in_flight.set(state.in_flight)
        if state.waiting != seen[1]:
            seen[1] = state.waiting
            metrics.bulkhead_waiting.set(state.waiting)
        if state.rejected > seen[2]:
            metrics.bulkhead_rejected.inc(state.rejected - seen[2])
            seen[2] = state.rejected

    def observe(state: BulkheadState) -> None:
        if not changed:
            changed.append(state)
            buffer.later(write)

    return observe


def watch_pool(engine: AsyncEngine, metrics: Metrics) -> None:
    """`fcfs_db_pool_in_use` follows the engine's connection checkouts and checkins."""
    gauge = metrics.db_pool_in_use
    event.listen(engine.sync_engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: gauge.dec())
