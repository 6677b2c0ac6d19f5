"""The literal insert inlines only values it checked over the batch; anything else falls back to bound parameters.

The codec builds events without `__post_init__` (`CouponIssued.trusted`), so the statement
text must not rely on the constructor's checks: an id out of range or a non-datetime time
gives `None`, and a time in another zone is written as the same instant in UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fcfs.adapters.sql.statements import counted_issue_of, literal_insert_issued, locked_counts_of
from fcfs.domain.coupon import MAX_ID
from fcfs.domain.events import CouponIssued

EVENT_ID = "6f1c8a52-0d5e-4c1e-9c59-2b1f0b7f3a10"
NOON = datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)


def test_checked_values_become_one_row_tuple_each() -> None:
    plus_two = NOON.astimezone(timezone(timedelta(hours=2)))
    events = [CouponIssued(EVENT_ID, 7, 42, NOON), CouponIssued(EVENT_ID, 7, 43, plus_two)]

    text = literal_insert_issued("mysql", 7, events)

    row = "(7,{user},'6f1c8a52-0d5e-4c1e-9c59-2b1f0b7f3a10','2026-01-01 12:00:00.250000')"
    values = f"{row.format(user=42)},{row.format(user=43)}"
    assert text == f"INSERT INTO issued_coupon (coupon_id, user_id, event_id, issued_at) VALUES {values} ON DUPLICATE KEY UPDATE id = id"  # fmt: skip


@pytest.mark.parametrize("user_id", [0, -1, MAX_ID + 1, True, "5", 5.0])
def test_an_unchecked_user_id_is_never_inlined(user_id: object) -> None:
    events = [CouponIssued(str(uuid.uuid4()), 7, 1, NOON), CouponIssued.trusted(EVENT_ID, 7, user_id, NOON)]  # type: ignore[arg-type]

    assert literal_insert_issued("mysql", 7, events) is None


@pytest.mark.parametrize("issued_at", ["2026-01-01 12:00:00", 0, None])
def test_a_time_that_is_not_a_datetime_is_never_inlined(issued_at: object) -> None:
    events = [CouponIssued(str(uuid.uuid4()), 7, 1, NOON), CouponIssued.trusted(EVENT_ID, 7, 2, issued_at)]  # type: ignore[arg-type]

    assert literal_insert_issued("mysql", 7, events) is None


def test_other_dialects_bind_parameters() -> None:
    assert literal_insert_issued("sqlite", 7, [CouponIssued(EVENT_ID, 7, 42, NOON)]) is None


def test_the_lock_and_the_count_are_text_of_checked_ints_on_mariadb_only() -> None:
    assert (
        locked_counts_of("mariadb", 7) == "SELECT issued_quantity, total_quantity FROM coupon WHERE id = 7 FOR UPDATE"
    )
    assert counted_issue_of("mysql", 7, 3) == "UPDATE coupon SET issued_quantity = issued_quantity + 3 WHERE id = 7"
    assert locked_counts_of("sqlite", 7) is None
    assert counted_issue_of("sqlite", 7, 3) is None


@pytest.mark.parametrize("bad", [0, -1, MAX_ID + 1, True, "7 OR 1=1"])
def test_the_lock_and_the_count_refuse_what_is_not_an_id(bad: object) -> None:
    with pytest.raises(ValueError, match="not an id"):
        locked_counts_of("mariadb", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an id"):
        counted_issue_of("mariadb", bad, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, True, "3", 3.0])
def test_the_count_refuses_what_is_not_a_count(bad: object) -> None:
    with pytest.raises(ValueError, match="not a count"):
        counted_issue_of("mariadb", 7, bad)  # type: ignore[arg-type]
