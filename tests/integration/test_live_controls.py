"""Pause, resume, close and top-up during a live burst: two `fcfs serve` instances and a consumer.

Real MariaDB, Redis and broker. Each request records the moment it was sent and the moment
its answer came (monotonic clock, compared for order only, never for a duration), so the
test can name exactly the requests sent after a control had answered, on either instance.
The oracle is the database after the drain: rows are the users granted, nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

from fcfs.entrypoints.demo import GRANTED
from tests.support.deployment import deployed, drained_audits
from tests.support.http_server import create_coupon

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fcfs import Settings

USERS = 6_000
CONCURRENCY = 64  # per instance: enough to keep both busy on two cores, under every bulkhead
BUSY = {"S001", "S002", "S003"}  # nothing issued, the user may retry


@dataclass(frozen=True, slots=True)
class Attempt:
    user: int
    instance: int
    sent: float
    answered: float
    code: str


@dataclass
class Burst:
    """Users sent to instance `user % 2`, CONCURRENCY at a time each, with their send and answer moments."""

    base_urls: list[str]
    coupon_id: int
    attempts: list[Attempt] = field(default_factory=list)
    answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run(self, users: range) -> None:
        queue = iter(users)
        async with (
            httpx.AsyncClient(base_url=self.base_urls[0], timeout=60) as first,
            httpx.AsyncClient(base_url=self.base_urls[1], timeout=60) as second,
        ):
            clients = (first, second)
            await asyncio.gather(*(self._worker(queue, clients) for _ in range(2 * CONCURRENCY)))

    async def _worker(self, queue: Iterator[int], clients: tuple[httpx.AsyncClient, ...]) -> None:
        for user in queue:
            instance = user % 2
            sent = time.monotonic()
            response = await clients[instance].post(f"/api/v1/coupons/{self.coupon_id}/issue", json={"userId": user})
            attempt = Attempt(user, instance, sent, time.monotonic(), response.json()["code"])
            async with self.answered:
                self.attempts.append(attempt)
                self.answered.notify_all()

    async def wait_for(self, count: int) -> None:
        """Until `count` attempts (in all) have been answered."""
        async with self.answered:
            await self.answered.wait_for(lambda: len(self.attempts) >= count)


async def control(
    base_url: str, coupon_id: int, action: str, body: dict[str, int] | None = None
) -> tuple[float, float]:
    """The moments the control was sent and answered; it must answer 200."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        sent = time.monotonic()
        path = f"/api/v1/coupons/{coupon_id}/{action}"
        response = await (client.post(path, json=body) if body is not None else client.post(path))
        answered = time.monotonic()
    assert response.status_code == 200, response.text
    return sent, answered


def live_settings(lab_settings: Settings, strategy: str) -> Settings:
    return dataclasses.replace(lab_settings, strategy=strategy, instances=2)


@pytest.mark.parametrize("strategy", ["lua-async", "lua", "pessimistic-lock"])
async def test_pause_resume_and_close_hold_on_both_instances_mid_burst(
    lab_settings: Settings, tmp_path: Path, strategy: str
) -> None:
    settings = live_settings(lab_settings, strategy)
    stock = 4_000  # more than the open phases can grant: the coupon never sells out here
    async with deployed(settings, tmp_path, instances=2, consumers=1) as deployment:
        coupon_id = create_coupon(deployment.base_urls[0], stock)
        burst = Burst(deployment.base_urls, coupon_id)

        async def operator() -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
            await burst.wait_for(800)
            paused = await control(deployment.base_urls[0], coupon_id, "pause")
            await burst.wait_for(len(burst.attempts) + 1_200)
            resumed = await control(deployment.base_urls[1], coupon_id, "resume")
            await burst.wait_for(len(burst.attempts) + 1_200)
            closed = await control(deployment.base_urls[0], coupon_id, "close")
            return paused, resumed, closed

        operated, _ = await asyncio.gather(operator(), burst.run(range(1, USERS + 1)))
        (_, paused_at), (resume_sent, resumed_at), (_, closed_at) = operated
        attempts = burst.attempts
        codes = Counter(attempt.code for attempt in attempts)
        assert set(codes) <= GRANTED | {"C009", "C005"} | BUSY, codes

        while_paused = [a for a in attempts if a.sent > paused_at and a.answered < resume_sent]
        assert while_paused, "no request was sent while the coupon was paused"
        assert {a.instance for a in while_paused} == {0, 1}
        assert {a.code for a in while_paused} <= {"C009"} | BUSY, Counter(a.code for a in while_paused)
        after_resume = [a for a in attempts if resumed_at < a.sent and a.answered < closed_at]
        assert {a.code for a in after_resume} & GRANTED, "nobody was admitted after the resume"
        after_close = [a for a in attempts if a.sent > closed_at]
        assert after_close, "no request was sent after the close"
        assert {a.instance for a in after_close} == {0, 1}
        assert {a.code for a in after_close} <= {"C005"} | BUSY, Counter(a.code for a in after_close)

        granted = {(coupon_id, a.user) for a in attempts if a.code in GRANTED}
        audit = (await drained_audits(settings, [coupon_id], granted))[coupon_id]
        assert {(coupon_id, user) for user in audit.row_users} == granted  # nothing refused holds a row
        assert audit.rows == len(granted) <= stock
        assert audit.issued_quantity == audit.rows
        if strategy != "pessimistic-lock":  # the gate decides: paused attempts took no unit from it
            assert audit.gate_users == audit.row_users
            assert audit.gate_remaining == stock - audit.rows


@pytest.mark.parametrize("strategy", ["lua-async", "pessimistic-lock"])
async def test_top_up_mid_burst_issues_exactly_the_original_stock_plus_the_units_added(
    lab_settings: Settings, tmp_path: Path, strategy: str
) -> None:
    settings = live_settings(lab_settings, strategy)
    stock, added, users = 400, 250, 3_000  # demand far above stock + added
    async with deployed(settings, tmp_path, instances=2, consumers=1) as deployment:
        coupon_id = create_coupon(deployment.base_urls[0], stock)
        burst = Burst(deployment.base_urls, coupon_id)

        async def operator() -> None:
            await burst.wait_for(150)
            await control(deployment.base_urls[1], coupon_id, "stock", {"add": added})

        await asyncio.gather(operator(), burst.run(range(1, users + 1)))
        codes = Counter(attempt.code for attempt in burst.attempts)
        assert set(codes) <= GRANTED | {"C003"} | BUSY, codes
        granted = {(coupon_id, a.user) for a in burst.attempts if a.code in GRANTED}
        audit = (await drained_audits(settings, [coupon_id], granted))[coupon_id]
        assert audit.total_quantity == stock + added
        assert audit.rows == len(granted) == stock + added
        assert {(coupon_id, user) for user in audit.row_users} == granted
