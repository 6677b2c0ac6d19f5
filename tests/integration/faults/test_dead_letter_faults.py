"""Records that can never become rows, and a dead-letter topic that cannot be written (cases 18–20)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcfs import Settings
from fcfs.adapters.kafka.codec import encode_event
from fcfs.domain.events import CouponIssued
from tests.support.drivers import consumer_lag, consumer_process, eventually_true, wait_drained
from tests.support.fault_proxy import ProxiedBroker, kafka_api_key
from tests.support.oracle import Claims, assert_invariants
from tests.support.pipeline import (
    SettingsFactory,
    create_coupon,
    events_for,
    headers_of,
    issued_pairs,
    produce_raw,
    read_topic,
)

PRODUCE = 0  # Kafka API key of a Produce request


def keyed(events: list[CouponIssued]) -> list[tuple[bytes | None, bytes]]:
    return [(event.key.encode(), encode_event(event)) for event in events]


def wire(coupon_id: object, user_id: object, **extra: object) -> bytes:
    value = {
        "eventId": str(uuid.uuid4()),
        "couponId": coupon_id,
        "userId": user_id,
        "issuedAt": datetime.now(UTC).isoformat(),
        "version": 1,
    }
    return json.dumps(value | extra).encode()


async def test_case_18_a_poison_record_is_dead_lettered_and_its_partition_moves_on(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 18. On one partition: 20 events, a record that is not JSON, then 20 more events.

    Expected: the 40 events become 40 rows; the poison record is on the dead-letter topic once,
    byte for byte, reason `undecodable`, source `consumer`; the partition moves past it (lag 0).
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 100)
    events = events_for(coupon_id, range(1, 41))
    poison = b"\x00\xffnot json at all"
    await produce_raw(settings, [*keyed(events[:20]), (b"poison", poison), *keyed(events[20:])])

    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, set(range(1, 41)))
    letters = await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)

    assert [(letter.key, letter.value) for letter in letters] == [(b"poison", poison)]
    assert headers_of(letters[0])["fcfs-dlt-reason"] == b"undecodable"
    assert headers_of(letters[0])["fcfs-dlt-source"] == b"consumer"
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(range(1, 41))), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


@pytest.mark.faults
async def test_case_19_a_dead_letter_that_cannot_be_written_holds_the_commit_and_is_retried(
    proxied_broker: ProxiedBroker, lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 19. A batch holds 30 events and one poison record; every Produce request to the broker is
    reset (the dead-letter publish fails) for 10 s, then the broker accepts writes again.

    Expected: during the fault the 30 rows exist (persisting is idempotent and comes first) but
    the batch is not committed (lag > 0), the consumer retries it (logs `batch_failed_will_retry`)
    and the dead-letter topic is empty; afterwards the letter is written (at least once:
    a retried batch may write it again), the offsets are committed (lag 0) and there are
    still exactly 30 rows.
    """
    settings = lua_async(kafka_bootstrap_servers=proxied_broker.bootstrap)
    coupon_id = await create_coupon(settings.database_url, 100)
    poison = b"{not json"
    await produce_raw(settings, [*keyed(events_for(coupon_id, range(1, 31))), (b"poison", poison)])
    proxied_broker.proxy.reset_on(kafka_api_key(PRODUCE))

    with consumer_process(settings, tmp_path / "consumer.log") as consumer:
        assert await eventually_true(lambda: _rows_at_least(settings, 30), 60.0), consumer.tail()
        await asyncio.sleep(10.0)
        lag_during = await consumer_lag(settings)
        letters_during = await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)
        retried = consumer.tail(1_000_000).count("batch_failed_will_retry")
        proxied_broker.proxy.restore()
        await wait_drained(settings, set(range(1, 31)))
    letters = await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)

    assert proxied_broker.proxy.counters["reset_on_frame"] > 0, "the dead-letter publish must have been hit"
    assert lag_during and lag_during > 0, "no commit while the dead letter is not written"
    assert letters_during == []
    assert retried >= 2, "the batch is retried while the dead-letter topic refuses"
    assert letters and {letter.value for letter in letters} == {poison}
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(range(1, 31))), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


async def test_case_20_out_of_range_and_mistyped_fields_are_dead_lettered_never_coerced(
    lua_async: SettingsFactory, tmp_path: Path
) -> None:
    """Case 20. Events whose ids are out of range or of the wrong type (2^63, 0, −1, 1.0, "7", true,
    1e3, a 30-digit number), beside valid events for users 1, 2^53 + 1 and 2^63 − 1.

    Expected: exactly the three valid users get rows, with their exact ids (2^53 + 1 and 2^63 − 1
    are not rounded through a float); every other record is on the dead-letter topic with reason
    `invalid`; no row exists for any coerced value (7, 1000, 2^63 − 1 from 2^63, ...).
    """
    settings = lua_async()
    coupon_id = await create_coupon(settings.database_url, 100)
    valid = [1, 2**53 + 1, 2**63 - 1]
    bad_users: list[object] = [2**63, 0, -1, 1.0, "7", True, 1e3, 10**30, None]
    records = [(b"k", wire(coupon_id, user)) for user in valid]
    records += [(b"bad", wire(coupon_id, user)) for user in bad_users]
    records += [(b"bad", wire(coupon, 5)) for coupon in (0, -1, 2**63, "1", 1.5)]
    await produce_raw(settings, records)
    expected_letters = len(bad_users) + 5

    with consumer_process(settings, tmp_path / "consumer.log"):
        await wait_drained(settings, set(valid))
        letters = await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)

    assert len(letters) == expected_letters, [letter.value for letter in letters]
    assert {headers_of(letter)["fcfs-dlt-reason"] for letter in letters} == {b"invalid"}
    assert sorted(user for _, user in await issued_pairs(settings.database_url)) == sorted(valid)
    await assert_invariants(settings.database_url, coupon_id, Claims(acked=set(valid)), conservation=False)
    assert await consumer_lag(settings) == 0, "the group must end having committed everything"


async def _rows_at_least(settings: Settings, count: int) -> bool:
    return len(await issued_pairs(settings.database_url)) >= count
