"""The per-turn metric buffer stores exactly what one-by-one updates would, and makes them visible by the next turn."""

from __future__ import annotations

import asyncio
import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fcfs.bootstrap.observability.metrics import LATENCY_BUCKETS
from fcfs.bootstrap.observability.turn_buffer import TurnBuffer, observe_all

values = st.lists(
    st.one_of(
        st.floats(min_value=-1.0, max_value=20.0, allow_nan=False),
        st.sampled_from([*LATENCY_BUCKETS, 0.0, math.inf]),  # exactly on a bound: that bucket, as observe() does
    ),
    max_size=200,
)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


@given(values)
def test_a_histogram_observed_all_at_once_is_the_one_observed_one_by_one(observed: list[float]) -> None:
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("h", "h", ["s"], buckets=LATENCY_BUCKETS, registry=one_by_one).labels("x")
    batched = Histogram("h", "h", ["s"], buckets=LATENCY_BUCKETS, registry=at_once).labels("x")
    for value in observed:
        direct.observe(value)
    observe_all(batched, observed)
    left, right = samples(one_by_one), samples(at_once)
    assert left.keys() == right.keys()
    for key, value in left.items():
        assert math.isclose(value, right[key], rel_tol=1e-9, abs_tol=1e-9), key


async def test_updates_are_written_at_the_end_of_the_turn_summed() -> None:
    registry = CollectorRegistry()
    counter = Counter("c", "c", ["code"], registry=registry).labels("C003")
    histogram = Histogram("h", "h", buckets=LATENCY_BUCKETS, registry=registry)
    gauge = Gauge("g", "g", registry=registry)
    buffer = TurnBuffer()
    for n in range(100):
        buffer.inc(counter)
        buffer.observe(histogram, 0.003)
        buffer.set(gauge, n)
    assert registry.get_sample_value("c_total", {"code": "C003"}) == 0.0  # not yet: same turn
    await asyncio.sleep(0)
    assert registry.get_sample_value("c_total", {"code": "C003"}) == 100.0
    assert registry.get_sample_value("h_count") == 100.0
    assert registry.get_sample_value("h_bucket", {"le": "0.005"}) == 100.0
    assert registry.get_sample_value("h_bucket", {"le": "0.0025"}) == 0.0
    assert registry.get_sample_value("g") == 99.0  # a gauge keeps its last value


def test_outside_an_event_loop_updates_are_written_through() -> None:
    registry = CollectorRegistry()
    counter = Counter("c", "c", registry=registry)
    buffer = TurnBuffer()
    buffer.inc(counter, 3)
    assert registry.get_sample_value("c_total") == 3.0


async def test_a_write_asked_for_later_runs_at_the_end_of_the_turn_with_the_state_then() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("g", "g", registry=registry)
    buffer = TurnBuffer()
    state = {"value": 1}
    buffer.later(lambda: gauge.set(state["value"]))
    state["value"] = 2
    assert registry.get_sample_value("g") == 0.0  # not yet: same turn
    await asyncio.sleep(0)
    assert registry.get_sample_value("g") == 2.0
    state["value"] = 3
    await asyncio.sleep(0)
    assert registry.get_sample_value("g") == 2.0  # once per asking, not every turn


def test_outside_an_event_loop_a_later_write_runs_at_once() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("g", "g", registry=registry)
    TurnBuffer().later(lambda: gauge.set(5))
    assert registry.get_sample_value("g") == 5.0
