"""The API documentation page in a real browser (Debian's chromium) with no internet: every request
to anything but the test server is refused, and the page still renders every documented operation.

Missing chromium or playwright skips the test on a workstation and fails it under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.runtime import stop, wait_ready
from tests.support.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _unavailable(what: str) -> None:
    message = f"{what}: run scripts/services.sh (as root it installs Debian's chromium) and `pip install -e .[dev]`"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _unavailable("chromium is not installed")
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError:
        _unavailable("the playwright package is not installed")
    assert path is not None
    return path


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
    from playwright.async_api import Route, async_playwright, expect  # noqa: PLC0415

    expected = documented_operations(docs_server)
    assert ("POST", "/api/v1/coupons/{coupon_id}/issue") in expected
    served_here = urlsplit(docs_server).netloc
    refused: list[str] = []

    async def only_the_test_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == served_here:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.route("**/*", only_the_test_server)
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
        finally:
            await browser.close()

    assert rendered == expected
    assert refused == [], "the documentation page asked the internet for something"
