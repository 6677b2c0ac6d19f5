"""The API documentation page in a real browser (Debian's chromium) with no internet: every request
to anything but the test server is refused, and the page still renders every documented operation.

Missing chromium or playwright skips the test on a workstation and fails it under CI=true.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.runtime import stop, wait_ready
from tests.support.browser import chromium_path, launched_chromium, only_from

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """granian serving the app (in-memory services) on a free loopback port."""
    port = free_port()
    log = (tmp_path_factory.mktemp("docs") / "server.log").open("wb")
    env = {name: value for name, value in os.environ.items() if not name.startswith("FCFS_")}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1"]
        + ["--port", str(port), "--workers", "1", "tests.support.api_docs_server:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield base_url
    finally:
        stop(process)
        log.close()


def documented_operations(base_url: str) -> set[tuple[str, str]]:
    document = httpx.get(f"{base_url}/schema/openapi.json", timeout=10).json()
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


async def test_the_docs_page_renders_every_operation_with_the_network_cut_off(
    chromium: str, docs_server: str, tmp_path: Path
) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    expected = documented_operations(docs_server)
    assert ("POST", "/api/v1/coupons/{coupon_id}/issue") in expected
    refused: list[str] = []

    async with launched_chromium(chromium) as browser:
        page = await browser.new_page()
        await page.route("**/*", only_from(docs_server, refused))
        await page.goto(f"{docs_server}/schema", wait_until="load")
        operations = page.locator(".opblock")
        await expect(operations).to_have_count(len(expected), timeout=30_000)
        rendered = set()
        for index in range(await operations.count()):
            block = operations.nth(index)
            method = await block.locator(".opblock-summary-method").inner_text()
            path = await block.locator(".opblock-summary-path").get_attribute("data-path")
            rendered.add((method.strip().upper(), path))
        await expect(page.locator(".btn.authorize")).to_be_visible()  # the declared security schemes
        await page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)

    assert rendered == expected
    assert refused == [], "the documentation page asked the internet for something"
