"""The consumer as a real process (`python -m fcfs.entrypoints.consumer`), killed with SIGKILL mid-drain.

Offsets are committed only after the database commit, so whatever the kill interrupts is
read again by the restarted consumer, and the unique key turns the redo into no rows:
the rows end as exactly the set of published (coupon, user) pairs.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path

from fcfs.entrypoints.consumer import consumer_alive
from tests.support.pipeline import (
    create_coupon,
    events_for,
    eventually,
    issued_pairs,
    issued_quantity,
    pipeline_settings,
    publish_all,
    read_topic,
    start_consumer,
)

USERS = 4_000


async def rows_at_least(database_url: str, count: int, process: subprocess.Popen[bytes], log: Path) -> int:
    async def reached() -> bool:
        assert process.poll() is None, f"consumer exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        return len(await issued_pairs(database_url)) >= count

    await eventually(reached, 120.0, interval=0.05)
    return len(await issued_pairs(database_url))


async def test_a_consumer_killed_mid_drain_and_restarted_leaves_exactly_the_published_rows(
    database_url: str, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    settings = pipeline_settings(
        database_url, kafka_bootstrap, topics, tmp_path, consumer_batch=200, consumer_max_rate=1_500.0
    )
    coupon_id = await create_coupon(database_url, 10_000)
    await publish_all(settings, events_for(coupon_id, range(1, USERS + 1)))
    log = tmp_path / "consumer.log"

    first = start_consumer(settings, log)
    try:
        rows_when_killed = await rows_at_least(database_url, 600, first, log)
        assert consumer_alive(settings, max_age=5.0)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert rows_when_killed < USERS, "the kill must land mid-drain"

    second = start_consumer(settings, log)
    try:
        await rows_at_least(database_url, USERS, second, log)
        await asyncio.sleep(1.0)  # anything redelivered after the last new row must add nothing
    finally:
        second.send_signal(signal.SIGTERM)
        exit_code = second.wait(30)

    pairs = await issued_pairs(database_url)
    assert set(pairs) == {(coupon_id, user) for user in range(1, USERS + 1)}
    assert Counter(pairs).most_common(1)[0][1] == 1
    assert len(pairs) == USERS
    assert await issued_quantity(database_url, coupon_id) == USERS
    assert await read_topic(kafka_bootstrap, topics[1]) == []
    assert exit_code == 0, log.read_text()[-3000:]
    assert not consumer_alive(settings), "a clean stop removes the liveness file"
