"""The batch cap (docs/design.md §6.5–6.6) as a decision over plain values: no store, no fake."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fcfs.domain.batch_cap import first_per_user, plan_capped_insert, room_under_cap
from fcfs.domain.events import CouponIssued

AT = datetime(2024, 1, 1, tzinfo=UTC)


def events(*users: int, coupon_id: int = 1) -> list[CouponIssued]:
    return [CouponIssued(f"e{index}-u{user}", coupon_id, user, AT) for index, user in enumerate(users)]


def test_users_fit_in_batch_order_until_the_room_is_used() -> None:
    batch = events(10, 11, 12, 13)

    plan = plan_capped_insert(batch, set(), room=2)

    assert [event.user_id for event in plan.insert] == [10, 11]
    assert plan.over_cap == (batch[2].event_id, batch[3].event_id)
    assert plan.duplicates == ()


def test_a_user_with_a_row_is_a_duplicate_and_takes_no_room() -> None:
    batch = events(10, 11)

    plan = plan_capped_insert(batch, {10}, room=1)

    assert plan.duplicates == (batch[0].event_id,)
    assert [event.user_id for event in plan.insert] == [11]
    assert plan.over_cap == ()


def test_a_user_named_twice_in_a_batch_is_inserted_once() -> None:
    batch = events(10, 10, 11)

    plan = plan_capped_insert(batch, set(), room=5)

    assert [event.event_id for event in plan.insert] == [batch[0].event_id, batch[2].event_id]
    assert plan.duplicates == (batch[1].event_id,)


def test_no_room_refuses_every_new_user() -> None:
    batch = events(1, 2)

    plan = plan_capped_insert(batch, set(), room=0)

    assert plan.insert == ()
    assert plan.over_cap == tuple(event.event_id for event in batch)


def test_room_is_never_negative_even_past_the_total() -> None:
    assert room_under_cap(5, 7) == 0
    assert room_under_cap(5, 2) == 3


def test_first_per_user_keeps_the_first_occurrence_in_order() -> None:
    assert first_per_user([(1, "a"), (2, "b"), (1, "c"), (3, "d")], key=lambda item: item[0]) == [
        (1, "a"),
        (2, "b"),
        (3, "d"),
    ]


@given(
    users=st.lists(st.integers(1, 20), max_size=40),
    with_rows=st.frozensets(st.integers(1, 20), max_size=10),
    room=st.integers(-3, 30),
)
def test_every_event_ends_in_exactly_one_list_and_the_cap_holds(
    users: list[int], with_rows: frozenset[int], room: int
) -> None:
    batch = events(*users)

    plan = plan_capped_insert(batch, with_rows, room)

    inserted_users = [event.user_id for event in plan.insert]
    ids = [event.event_id for event in plan.insert] + list(plan.duplicates) + list(plan.over_cap)
    assert sorted(ids) == sorted(event.event_id for event in batch)
    assert len(inserted_users) <= max(room, 0)
    assert len(set(inserted_users)) == len(inserted_users)
    assert not set(inserted_users) & with_rows
    assert len(plan.insert) == min(max(room, 0), len(set(users) - with_rows))
