"""The live event console in a real browser (docs/design.md, the live view, issue 16 acceptance 4 and 5): two `fcfs serve`
instances, lua-async, a consumer process throttled so persistence trails admission by seconds.

The console loads from the server alone (every other request is refused), the operator enters
the admin token once, a burst runs, the counters and the chart follow it; the buttons pause
(C009 on every instance), top up, resume (issuing again) and close. Two consoles on two
instances show the same persisted count within one second: each snapshot carries the whole
second it was read at, and a figure one console showed for second t lies between what the
other showed for t − 1 and t + 1 (persisted only grows).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from fcfs import Settings
from fcfs.entrypoints.http.console import console_url
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.browser import chromium_path, launched_chromium, only_from
from tests.support.http_server import start_server
from tests.support.pipeline import start_consumer

TOKEN = "console-admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
STOCK = 400
USERS, REPEATS = 2_000, 200
DRAIN_RATE = 80  # records/s: the drain of STOCK events takes about five seconds


@pytest.fixture
def chromium() -> str:
    return chromium_path()


@pytest.fixture
def console_settings(lab_settings: Settings) -> Settings:
    return dataclasses.replace(
        lab_settings, strategy="lua-async", admin_token=TOKEN, consumer_batch=20, consumer_max_rate=DRAIN_RATE
    )


@pytest.fixture
def instances(console_settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    """Two API instances (one worker each) and one consumer process, on the same stores."""
    started = [start_server(console_settings, 1, tmp_path / f"api-{n}") for n in range(2)]
    consumer = start_consumer(console_settings, tmp_path / "consumer.log")
    try:
        yield [base_url for _, base_url in started]
    finally:
        stop(consumer)
        for process, _ in started:
            stop(process)


def create_loaded_coupon(base_url: str, stock: int) -> int:
    with httpx.Client(base_url=base_url, headers=ADMIN, timeout=30) as client:
        created = client.post("/api/v1/coupons", json={"name": "console", "totalQuantity": stock})
        coupon_id = int(created.json()["result"]["id"])
        assert client.post(f"/api/v1/coupons/{coupon_id}/stock").status_code == 200
    return coupon_id


async def race(urls: list[str], coupon_id: int) -> dict[str, int]:
    """USERS distinct users and REPEATS repeats, split over the instances; the answers by code."""
    users = list(range(1, USERS + 1)) + list(range(1, REPEATS + 1))
    shares = [users[n :: len(urls)] for n in range(len(urls))]
    results = await asyncio.gather(
        *(
            burst(url, issue_requests(coupon_id, share), concurrency=200)
            for url, share in zip(urls, shares, strict=True)
        )
    )
    by_code: dict[str, int] = {}
    for result in results:
        for code, count in result.by_code.items():
            by_code[code] = by_code.get(code, 0) + count
    return by_code


async def issue_codes(urls: list[str], coupon_id: int, users: range) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [
            await client.post(f"{url}/api/v1/coupons/{coupon_id}/issue", json={"userId": user})
            for url in urls
            for user in users
        ]
    return [answer.json()["code"] for answer in answers]


async def counted_answers(settings: Settings, coupon_id: int) -> dict[str, int]:
    """The per-second answer counters every instance writes, summed over the seconds."""
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        totals: dict[str, int] = {}
        async for key in client.scan_iter(match=f"{settings.redis_prefix}:{{c:{coupon_id}}}:answers:*"):
            for code, count in (await client.hgetall(key)).items():
                totals[code.decode()] = totals.get(code.decode(), 0) + int(count)
        return totals
    finally:
        await client.aclose()


async def open_console(launched: Any, base_url: str, coupon_id: int, refused: list[str]) -> Any:
    """A console page with the network cut off but for its own server, the admin token entered once."""
    from playwright.async_api import expect  # noqa: PLC0415

    page = await (await launched.new_context(viewport={"width": 1200, "height": 760})).new_page()
    await page.route("**/*", only_from(base_url, refused))
    await page.goto(console_url(base_url, coupon_id), wait_until="load")
    await expect(page.get_by_test_id("connection")).to_have_text("admin token required", timeout=15_000)
    await page.get_by_test_id("token").fill(TOKEN)
    await page.get_by_test_id("connect").click()
    await expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15_000)
    return page


async def history(page: Any) -> list[dict[str, Any]]:
    snapshots: list[dict[str, Any]] = await page.evaluate("() => window.fcfsConsole.history")
    return snapshots


async def test_the_console_follows_a_burst_and_its_buttons_steer_every_instance(
    chromium: str, instances: list[str], console_settings: Settings, tmp_path: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    coupon_id = create_loaded_coupon(instances[0], STOCK)
    refused: list[str] = []
    async with launched_chromium(chromium) as launched:
        page = await open_console(launched, instances[0], coupon_id, refused)
        await expect(page.get_by_test_id("remaining")).to_have_text(str(STOCK))
        await expect(page.get_by_test_id("state")).to_have_text("open")
        await page.screenshot(path=str(tmp_path / "console-before.png"), full_page=True)

        answered = await race(instances, coupon_id)
        assert answered.get("202") == STOCK, answered

        await expect(page.get_by_test_id("remaining")).to_have_text("0", timeout=15_000)
        await expect(page.get_by_test_id("accepted")).to_have_text(str(STOCK))
        await page.screenshot(path=str(tmp_path / "console-burst.png"), full_page=True)
        await expect(page.get_by_test_id("persisted")).to_have_text(str(STOCK), timeout=60_000)
        await expect(page.get_by_test_id("pending")).to_have_text("0")
        await expect(page.get_by_test_id("lag")).to_have_text("0", timeout=15_000)
        chart = page.get_by_test_id("chart")
        assert int(await chart.get_attribute("data-points") or 0) >= 3
        assert (
            len((await chart.locator('polyline[data-series="persisted"]').get_attribute("points") or "").split()) >= 3
        )
        shown = await history(page)
        assert any(snapshot["answers"].get("202", 0) > 0 for snapshot in shown), "no second showed an issue"
        assert await counted_answers(console_settings, coupon_id) == answered  # every instance's answers, once

        await page.get_by_test_id("top-up-amount").fill("5")
        await page.get_by_test_id("top-up").click()
        await expect(page.get_by_test_id("message")).to_have_text("stock: 200 OK")
        await expect(page.get_by_test_id("remaining")).to_have_text("5")

        await page.get_by_test_id("pause").click()
        await expect(page.get_by_test_id("message")).to_have_text("pause: 200 OK")
        await expect(page.get_by_test_id("state")).to_have_text("paused")
        fresh = range(USERS + 1, USERS + 3)
        assert await issue_codes(instances, coupon_id, fresh) == ["C009"] * 4  # on both instances, nothing consumed
        await expect(page.get_by_test_id("answers").locator('tr[data-code="C009"]')).to_be_visible()
        await expect(page.get_by_test_id("remaining")).to_have_text("5")
        await page.screenshot(path=str(tmp_path / "console-paused.png"), full_page=True)

        await page.get_by_test_id("resume").click()
        await expect(page.get_by_test_id("message")).to_have_text("resume: 200 OK")
        await expect(page.get_by_test_id("state")).to_have_text("open")
        assert await issue_codes(instances, coupon_id, fresh) == ["202", "202", "C002", "C002"]
        await expect(page.get_by_test_id("remaining")).to_have_text("3")

        await page.get_by_test_id("close").click()
        await expect(page.get_by_test_id("state")).to_have_text("closed")
        assert await issue_codes(instances[:1], coupon_id, range(USERS + 9, USERS + 10)) == ["C005"]
        await page.screenshot(path=str(tmp_path / "console-closed.png"), full_page=True)
    assert refused == [], "the console asked something other than its server"


def agrees_within_one_second(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> int:
    """Every persisted figure in `mine` for second t lies within what `theirs` showed for t − 1 and t + 1;
    how many figures taken while the drain was under way were compared."""
    by_second = {snapshot["second"]: snapshot["persisted"] for snapshot in theirs}
    compared = 0
    for snapshot in mine:
        second, persisted = snapshot["second"], snapshot["persisted"]
        if second - 1 in by_second and second + 1 in by_second:
            assert by_second[second - 1] <= persisted <= by_second[second + 1], (second, persisted, by_second)
            compared += 0 < persisted < STOCK
    return compared


async def test_two_consoles_on_two_instances_show_the_same_persisted_count_within_one_second(
    chromium: str, instances: list[str], tmp_path: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    coupon_id = create_loaded_coupon(instances[0], STOCK)
    refused: list[str] = []
    async with launched_chromium(chromium) as launched:
        pages = [await open_console(launched, url, coupon_id, refused) for url in instances]
        assert (await race(instances, coupon_id)).get("202") == STOCK
        for page in pages:
            await expect(page.get_by_test_id("persisted")).to_have_text(str(STOCK), timeout=60_000)
        first, second = [await history(page) for page in pages]
        await pages[1].screenshot(path=str(tmp_path / "console-second-instance.png"), full_page=True)
    assert agrees_within_one_second(first, second) >= 2, "the drain was not watched by both consoles"
    assert agrees_within_one_second(second, first) >= 2
    assert refused == []
