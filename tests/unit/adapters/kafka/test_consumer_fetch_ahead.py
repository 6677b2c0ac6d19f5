"""The consumer fetches and decodes the next batch while the handler works, without changing what is committed.

Against an in-memory stand-in for the broker client (the one `test_consumer_loop.py` uses),
plus the two calls dropping a fetched batch needs: `assignment()` and `seek()`. And the
batch decoder agrees with the one-record decoder on every value, valid or not.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fcfs.adapters.kafka.codec import Undecodable, decode_event, decode_events, encode_event
from fcfs.domain.events import CouponIssued
from fcfs.ports.consumer import ConsumedBatch
from tests.support.consumer_client import TP0, TP1, FakeClient, Handler, consumer, log_of


class RewindableClient(FakeClient):
    """Can be told to hold its second fetch back until released, as a slow fetch would be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.fetches = 0

    def assignment(self) -> set[Any]:
        return set(self.log)

    def seek(self, tp: Any, offset: int) -> None:
        self.position[tp] = offset

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        self.fetches += 1
        if self.fetches == 2:
            await self.release.wait()
        return await super().getmany(timeout_ms, max_records)


class BlockFirst(Handler):
    """Blocks on its first batch until it is cancelled; handles every later one at once."""

    def __init__(self, client: FakeClient) -> None:
        super().__init__(client)
        self.calls = 0

    async def __call__(self, batch: ConsumedBatch) -> int:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            await asyncio.Event().wait()
        self.batches.append(batch)
        return len(batch)


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_the_next_batch_is_fetched_while_the_handler_still_works_on_this_one() -> None:
    client = FakeClient(log_of(4))
    handler = Handler(client)
    handler.gate = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(consumer(client, handler, batch_size=4).run(stop))
    await handler.entered.wait()
    await asyncio.sleep(0.05)

    assert client.position == {TP0: 4, TP1: 4}  # two batches taken from the log, one handed over
    assert client.commits == []
    handler.gate.set()
    await until(lambda: client.committed == {TP0: 4, TP1: 4})
    stop.set()
    await asyncio.wait_for(task, 5)
    assert client.commits == [{TP0: 4}, {TP1: 4}]


async def test_a_batch_fetched_behind_an_abandoned_one_is_given_back_so_no_record_is_skipped() -> None:
    client = RewindableClient(log_of(4))
    handler = BlockFirst(client)
    stop = asyncio.Event()
    loop = consumer(client, handler, batch_size=4, revoke_grace_seconds=0.2)
    task = asyncio.create_task(loop.run(stop))
    await handler.entered.wait()

    revocation = asyncio.create_task(client.listener.on_partitions_revoked({TP0, TP1}))
    client.position = {tp: client.committed.get(tp, 0) for tp in client.log}  # the group starts over from the commits
    client.release.set()  # the fetch behind the blocked batch takes the same records again
    await asyncio.wait_for(revocation, 5)
    await until(lambda: client.committed == {TP0: 4, TP1: 4})
    stop.set()
    await asyncio.wait_for(task, 5)

    assert loop.batches_abandoned == 1
    handled = sorted(consumed.event.user_id for batch in handler.batches for consumed in batch.events)
    assert handled == [*range(100, 104), *range(200, 204)]


class GatedPerBatch(Handler):
    """Each call waits on its own gate (`gates[n]` for the n-th call, created on entry)."""

    def __init__(self, client: FakeClient) -> None:
        super().__init__(client)
        self.gates: list[asyncio.Event] = []

    async def __call__(self, batch: ConsumedBatch) -> int:
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        self.batches.append(batch)
        return len(batch)


async def test_the_next_batch_is_handed_over_before_this_one_commits_and_commits_keep_their_order() -> None:
    client = FakeClient(log_of(4))
    handler = GatedPerBatch(client)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer(client, handler, batch_size=4).run(stop))
    await until(lambda: len(handler.gates) == 2)  # both batches with the handler at once

    handler.gates[1].set()  # the newer one finishes first
    await asyncio.sleep(0.05)
    assert client.commits == []  # its commit waits for the older one's
    handler.gates[0].set()
    await until(lambda: client.committed == {TP0: 4, TP1: 4})
    stop.set()
    await asyncio.wait_for(task, 5)

    assert client.commits == [{TP0: 4}, {TP1: 4}]
    assert len(handler.gates) == 2


async def test_a_batch_handed_over_behind_an_abandoned_one_is_abandoned_too_and_both_are_read_again() -> None:
    client = RewindableClient(log_of(4))
    client.release.set()
    handler = BlockFirst(client)
    stop = asyncio.Event()
    loop = consumer(client, handler, batch_size=4, revoke_grace_seconds=0.1)
    task = asyncio.create_task(loop.run(stop))
    await until(lambda: handler.calls == 2)  # the second batch is with the handler (and done), uncommitted

    await asyncio.wait_for(client.listener.on_partitions_revoked({TP0, TP1}), 5)
    await until(lambda: client.committed == {TP0: 4, TP1: 4})
    stop.set()
    await asyncio.wait_for(task, 5)

    assert loop.batches_abandoned == 2
    assert client.commits == [{TP0: 4}, {TP1: 4}]  # nothing committed for the abandoned pair
    handled = sorted(consumed.event.user_id for batch in handler.batches[1:] for consumed in batch.events)
    assert handled == [*range(100, 104), *range(200, 204)]  # both read again from their first records


def value(event_id: str, user: int = 1, **overrides: object) -> bytes:
    body: dict[str, object] = {"eventId": event_id, "couponId": 3, "userId": user,
                               "issuedAt": "2026-01-01T00:00:00.5Z", "version": 1}  # fmt: skip
    body.update(overrides)
    return json.dumps(body).encode()


values = st.one_of(
    st.uuids().map(lambda u: encode_event(CouponIssued(str(u), 3, 9, datetime(2026, 1, 1, tzinfo=UTC)))),
    st.uuids().map(lambda u: value(str(u).upper())),
    st.uuids().map(lambda u: value(u.hex)),
    st.uuids().map(lambda u: value(str(u), userId=0)),
    st.uuids().map(lambda u: value(str(u), version=2)),
    st.uuids().map(lambda u: value(str(u), issuedAt="2026-01-01T00:00:00")),
    st.sampled_from([b"garbage", b"[]", b"{}", None, value("not-a-uuid"), value(str(uuid.uuid4()) + "0")]),
)


def outcome(decoded: CouponIssued | Undecodable) -> object:
    return (decoded.reason, decoded.detail) if isinstance(decoded, Undecodable) else decoded


def one_by_one(raw: bytes | None) -> object:
    try:
        return decode_event(raw)
    except Undecodable as refusal:
        return (refusal.reason, refusal.detail)


@given(st.lists(values, max_size=12))
def test_decoding_a_batch_says_exactly_what_decoding_each_value_says(raws: list[bytes | None]) -> None:
    assert [outcome(decoded) for decoded in decode_events(raws)] == [one_by_one(raw) for raw in raws]
