"""A consumer-only process hides its start-up objects from the collector and collects young objects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fcfs.entrypoints.consumer import YOUNG_GENERATION_THRESHOLD, tune_consumer_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    yield
    gc.set_threshold(*threshold)
    if not frozen:
        gc.unfreeze()


def test_tuning_freezes_what_exists_and_raises_only_the_young_threshold(restored_gc: None) -> None:
    middle, old = gc.get_threshold()[1:]
    start_up = [object(), {}]  # something alive at start-up, tracked by the collector

    tune_consumer_gc()

    assert gc.get_freeze_count() > 0
    assert not any(item is start_up for item in gc.get_objects())  # frozen objects are out of the collector's view
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, old)


def test_an_api_worker_settles_its_start_up_objects_with_its_own_young_threshold(restored_gc: None) -> None:
    from fcfs.entrypoints.http.app import YOUNG_GENERATION_THRESHOLD as API_THRESHOLD  # noqa: PLC0415
    from fcfs.entrypoints.http.app import freeze_startup_objects  # noqa: PLC0415

    middle, old = gc.get_threshold()[1:]
    start_up = [object(), {}]

    freeze_startup_objects()

    assert not any(item is start_up for item in gc.get_objects())
    assert gc.get_threshold() == (API_THRESHOLD, middle, old)
