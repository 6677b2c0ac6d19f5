"""The version of the installed package: one source for `fcfs --version` and the OpenAPI document."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

UNKNOWN = "0+unknown"  # a source tree on sys.path without installed metadata


@cache
def package_version() -> str:
    """The `version` of pyproject.toml as pip recorded it, so no second copy can drift from it."""
    try:
        return version("fcfs")
    except PackageNotFoundError:
        return UNKNOWN
