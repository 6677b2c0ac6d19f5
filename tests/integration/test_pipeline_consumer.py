"""Publisher → tansu → consumer → MariaDB, end to end, with the faults docs/design.md §6.4–6.6 names.

Every assertion is on what an operator would see: the rows in `issued_coupon`, the coupon's
`issued_quantity`, and the records on the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from fcfs.adapters.kafka.codec import encode_event
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.consumer import run_consumer
from fcfs.entrypoints.embedded import EmbeddedProcess
from tests.support.pipeline import (
    create_coupon,
    events_for,
    eventually,
    headers_of,
    issued_pairs,
    issued_quantity,
    pipeline_settings,
    produce_raw,
    publish_all,
    read_topic,
)

DRAIN_TIMEOUT = 90.0


@asynccontextmanager
async def consuming(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """A consumer running as a task of this loop, the way `fcfs serve` runs it; stopped on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(settings, stop=stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def rows_reach(database_url: str, count: int, task: asyncio.Task[None] | None = None) -> None:
    async def reached() -> bool:
        if task is not None and task.done():
            task.result()  # a crashed consumer fails the test with its own error
        return len(await issued_pairs(database_url)) >= count

    await eventually(reached, DRAIN_TIMEOUT)


@pytest.fixture
def base(database_url: str, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path) -> Settings:
    return pipeline_settings(database_url, kafka_bootstrap, topics, tmp_path, consumer_batch=500)


async def test_five_thousand_events_with_duplicates_become_exactly_one_row_per_user(
    base: Settings, database_url: str
) -> None:
    coupon_id = await create_coupon(database_url, 10_000)
    events = events_for(coupon_id, range(1, 5_001))
    redelivered = events[::10] + events_for(coupon_id, range(1, 5_001, 7))  # same events, and new ids for old users
    await publish_all(base, events + redelivered)

    async with consuming(base) as task:
        await rows_reach(database_url, 5_000, task)
        await asyncio.sleep(1.0)  # the duplicates after the last new user must add nothing either

    pairs = await issued_pairs(database_url)
    assert len(pairs) == 5_000
    assert set(pairs) == {(coupon_id, user) for user in range(1, 5_001)}
    assert await issued_quantity(database_url, coupon_id) == 5_000
    assert await read_topic(base.kafka_bootstrap_servers, base.dead_letter_topic) == []


async def test_poison_records_go_to_the_dead_letter_topic_while_the_valid_ones_of_the_batch_persist(
    base: Settings, database_url: str
) -> None:
    coupon_id = await create_coupon(database_url, 100)
    good = events_for(coupon_id, [1, 2, 3])
    wrong_type = json.dumps({**json.loads(encode_event(good[0])), "userId": "9"}).encode()
    future = json.dumps({"version": 2, "grant": [coupon_id, 10]}).encode()
    records = [
        (good[0].key.encode(), encode_event(good[0])),
        (b"junk", b"\x00not json"),
        (good[1].key.encode(), encode_event(good[1])),
        (b"9:9", wrong_type),
        (None, future),
        (good[2].key.encode(), encode_event(good[2])),
    ]
    await produce_raw(base, records)

    async with consuming(base) as task:
        await rows_reach(database_url, 3, task)
        await dead_letters_reach(base, 3)

    assert sorted(await issued_pairs(database_url)) == [(coupon_id, 1), (coupon_id, 2), (coupon_id, 3)]
    letters = await read_topic(base.kafka_bootstrap_servers, base.dead_letter_topic)
    assert sorted((letter.value, letter.key, headers_of(letter)["fcfs-dlt-reason"]) for letter in letters) == sorted(
        [
            (b"\x00not json", b"junk", b"undecodable"),
            (wrong_type, b"9:9", b"invalid"),
            (future, None, b"unknown_version"),
        ]
    )
    assert {headers_of(letter)["fcfs-dlt-source"] for letter in letters} == {b"consumer"}
    assert {headers_of(letter)["fcfs-dlt-attempts"] for letter in letters} == {b"1"}


async def test_events_past_the_cap_leave_exactly_total_rows_and_the_rest_in_the_dead_letter_topic_as_over_cap(
    base: Settings, database_url: str
) -> None:
    coupon_id = await create_coupon(database_url, 100)
    events = events_for(coupon_id, range(1, 301))
    await publish_all(base, events)

    async with consuming(base) as task:
        await rows_reach(database_url, 100, task)
        await dead_letters_reach(base, 200)

    pairs = await issued_pairs(database_url)
    assert len(pairs) == 100
    assert await issued_quantity(database_url, coupon_id) == 100
    letters = await read_topic(base.kafka_bootstrap_servers, base.dead_letter_topic)
    assert len(letters) == 200
    assert {headers_of(letter)["fcfs-dlt-reason"] for letter in letters} == {b"over_cap"}
    refused_users = {json.loads(letter.value)["userId"] for letter in letters}
    assert refused_users | {user for _, user in pairs} == set(range(1, 301))
    assert not refused_users & {user for _, user in pairs}


async def test_while_the_database_refuses_writes_the_batch_is_retried_and_nothing_is_dead_lettered(
    base: Settings, database_url: str
) -> None:
    coupon_id = await create_coupon(database_url, 1_000)
    async with _restricted_user(database_url) as (limited_url, grant_writes):
        settings = pipeline_settings(
            limited_url, base.kafka_bootstrap_servers, (base.topic, base.dead_letter_topic), Path(base.data_dir)
        )
        await publish_all(settings, events_for(coupon_id, range(1, 201)))

        async with consuming(settings) as task:
            await asyncio.sleep(3.0)  # several failed attempts: INSERT is denied
            assert await issued_pairs(database_url) == []
            assert not task.done()
            await grant_writes()
            await rows_reach(database_url, 200, task)

    assert len(await issued_pairs(database_url)) == 200
    assert await read_topic(base.kafka_bootstrap_servers, base.dead_letter_topic) == []


async def test_two_consumers_of_one_group_rebalancing_mid_drain_leave_one_row_per_user(
    base: Settings, database_url: str
) -> None:
    coupon_id = await create_coupon(database_url, 10_000)
    await publish_all(base, events_for(coupon_id, range(1, 3_001)))
    slow = Settings(**{**_fields(base), "consumer_batch": 100, "consumer_max_rate": 1_000.0})

    async with consuming(slow) as first:
        await rows_reach(database_url, 500, first)
        async with consuming(slow) as second:  # joins: the group rebalances while batches are in flight
            await rows_reach(database_url, 3_000, second)

    pairs = await issued_pairs(database_url)
    assert len(pairs) == 3_000
    assert Counter(pairs).most_common(1)[0][1] == 1
    assert await issued_quantity(database_url, coupon_id) == 3_000


async def dead_letters_reach(settings: Settings, count: int) -> None:
    async def reached() -> bool:
        return len(await read_topic(settings.kafka_bootstrap_servers, settings.dead_letter_topic)) >= count

    await eventually(reached, DRAIN_TIMEOUT, interval=0.5)


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


@asynccontextmanager
async def _restricted_user(database_url: str) -> AsyncIterator[tuple[str, object]]:
    """A MariaDB user that may read the test database but not write it, until `grant_writes()`."""
    url = make_url(database_url)
    database = url.database
    user = f"fcfs_ro_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    admin = create_async_engine(url.set(database=None), isolation_level="AUTOCOMMIT")

    async def run(*statements: str) -> None:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))

    await run(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
        f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'",
        f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'",
        f"GRANT SELECT ON `{database}`.* TO '{user}'@'localhost'",
    )

    async def grant_writes() -> None:
        await run(
            *(
                f"GRANT INSERT, UPDATE ON `{database}`.`{table}` TO '{user}'@'{host}'"
                for table in ("coupon", "issued_coupon")
                for host in ("%", "localhost")
            )
        )

    try:
        yield url.set(username=user, password=password).render_as_string(hide_password=False), grant_writes
    finally:
        await run(f"DROP USER IF EXISTS '{user}'@'%'", f"DROP USER IF EXISTS '{user}'@'localhost'")
        await admin.dispose()


async def test_a_consumer_started_before_the_broker_waits_for_it_then_drains(
    database_url: str, tansu: EmbeddedProcess, topics: tuple[str, str], tmp_path: Path
) -> None:
    settings = pipeline_settings(database_url, f"127.0.0.1:{tansu.port}", topics, tmp_path)
    coupon_id = await create_coupon(database_url, 100)
    await asyncio.to_thread(tansu.kill)

    async with consuming(settings) as task:
        await asyncio.sleep(2.0)
        assert not task.done()
        await asyncio.to_thread(tansu.restart)
        await publish_all(settings, events_for(coupon_id, range(1, 51)))
        await rows_reach(database_url, 50, task)

    assert sorted(await issued_pairs(database_url)) == [(coupon_id, user) for user in range(1, 51)]


async def test_on_the_embedded_default_sqlite_the_consumer_drains_idempotently_too(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    from fcfs.adapters.sql.migrate import upgrade

    sqlite_url = f"sqlite+aiosqlite:///{tmp_path}/fcfs.db"
    await upgrade(sqlite_url)
    settings = pipeline_settings(sqlite_url, kafka_bootstrap, topics, tmp_path)
    coupon_id = await create_coupon(sqlite_url, 300)
    events = events_for(coupon_id, range(1, 401))
    await publish_all(settings, events + events[:50])

    async with consuming(settings) as task:
        await rows_reach(sqlite_url, 300, task)
        await dead_letters_reach(settings, 100)

    pairs = await issued_pairs(sqlite_url)
    assert len(pairs) == len(set(pairs)) == 300
    assert await issued_quantity(sqlite_url, coupon_id) == 300
