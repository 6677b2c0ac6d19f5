"""The batch check for canonical event ids (codec and literal insert) says what a per-id regex says.

Both decide whether ids may skip the `uuid.UUID` round trip or be inlined into SQL text, so
a false "canonical" would let an id through that the slow path would refuse or rewrite.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcfs.domain.events import all_canonical_uuids

ONE = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
CHECKS: list[Callable[[list[str]], bool]] = [all_canonical_uuids]  # the codec's and the literal insert's one check


def reference(event_ids: list[str]) -> bool:
    return all(ONE.fullmatch(event_id) is not None for event_id in event_ids)


def mutated(draw: st.DrawFn) -> str:
    text = str(draw(st.uuids()))
    spot = draw(st.integers(0, len(text) - 1))
    kind = draw(st.sampled_from(["as is", "replace", "drop", "insert", "upper"]))
    if kind == "replace":
        return text[:spot] + draw(st.characters()) + text[spot + 1 :]
    if kind == "drop":
        return text[:spot] + text[spot + 1 :]
    if kind == "insert":
        return text[:spot] + draw(st.sampled_from(["-", "0", "f", "g", "é"])) + text[spot:]
    return text.upper() if kind == "upper" else text


ids = st.composite(mutated)()


@pytest.mark.parametrize("check", CHECKS)
@given(st.lists(ids, max_size=8))
def test_the_batch_check_agrees_with_checking_each_id(check: Callable[[list[str]], bool], event_ids: list[str]) -> None:
    assert check(event_ids) == reference(event_ids)


@pytest.mark.parametrize("check", CHECKS)
def test_ids_that_only_join_into_canonical_ones_are_refused(check: Callable[[list[str]], bool]) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    assert check([first, second])
    assert not check([first[:-1], first[-1] + second])  # joined, exactly `first + second`
