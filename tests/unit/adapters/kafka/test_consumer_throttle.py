"""The consumer's throttle: a token bucket in virtual time (the original claimed one and had none)."""

from __future__ import annotations

import pytest

from fcfs.adapters.kafka.throttle import RecordThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_first_batch_passes_and_the_next_waits_for_the_time_the_first_used() -> None:
    clock = Clock()
    throttle = RecordThrottle(rate=100.0, clock=clock)

    assert throttle.delay_for(50) == 0.0
    assert throttle.delay_for(50) == pytest.approx(0.5)
    assert throttle.delay_for(100) == pytest.approx(1.0)


def test_over_a_long_run_the_rate_is_the_configured_one() -> None:
    clock = Clock()
    throttle = RecordThrottle(rate=250.0, clock=clock)
    for _ in range(100):
        clock.now += throttle.delay_for(500)  # the loop sleeps what it is told, then processes instantly

    assert 100 * 500 / (clock.now - 100.0 + 500 / 250.0) == pytest.approx(250.0)


def test_an_idle_consumer_earns_no_burst_beyond_the_configured_one() -> None:
    clock = Clock()
    throttle = RecordThrottle(rate=100.0, burst=100, clock=clock)
    throttle.delay_for(100)
    clock.now += 60

    assert throttle.delay_for(100) == 0.0
    assert throttle.delay_for(100) == pytest.approx(0.0)
    assert throttle.delay_for(100) == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0.0, -5.0])
def test_a_rate_of_zero_or_less_never_waits(rate: float) -> None:
    throttle = RecordThrottle(rate=rate, clock=Clock())

    assert not throttle.enabled
    assert [throttle.delay_for(10_000) for _ in range(3)] == [0.0, 0.0, 0.0]
