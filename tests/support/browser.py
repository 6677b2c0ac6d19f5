"""A real browser for tests: Debian's chromium driven by Python playwright (no `playwright install`).

Missing chromium or playwright skips a test on a workstation and fails it under CI=true.
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.services import IN_CI

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
