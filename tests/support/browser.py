"""A real browser for tests: Debian's chromium driven by Python playwright (no `playwright install`).

Missing chromium or playwright skips a test on a workstation and fails it under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.support.services import IN_CI

if TYPE_CHECKING:
    from playwright.async_api import Browser, Route

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _unavailable(what: str) -> None:
    message = f"{what}: run scripts/services.sh (as root it installs Debian's chromium) and `pip install -e .[dev]`"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_path() -> str:
    """The chromium executable, once playwright is importable too."""
    path = shutil.which("chromium")
    if path is None:
        _unavailable("chromium is not installed")
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError:
        _unavailable("the playwright package is not installed")
    assert path is not None
    return path


@asynccontextmanager
async def launched_chromium(path: str) -> AsyncIterator[Browser]:
    """Chromium at `path` with `CHROMIUM_ARGS`, closed (and its driver stopped) afterwards."""
    from playwright.async_api import async_playwright  # noqa: PLC0415

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def only_from(base_url: str, refused: list[str]) -> Callable[[Route], Awaitable[None]]:
    """A `page.route("**/*", …)` handler that cuts the page off the internet: requests to `base_url`'s host
    go through, every other one is aborted and its URL appended to `refused` for the test to assert on."""
    served_here = urlsplit(base_url).netloc

    async def route_request(route: Route) -> None:
        if urlsplit(route.request.url).netloc == served_here:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    return route_request
