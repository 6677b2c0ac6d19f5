"""Unit-test fixtures: an in-memory world per test, and every HTTP test run on both issue paths."""

from __future__ import annotations

import pytest

from tests.support.memory_world import MemoryWorld


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


@pytest.fixture(params=["fast-route", "litestar-handler"])
def both_issue_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs an HTTP test once through the fast issue route and once through the Litestar handler."""
    if request.param == "litestar-handler":
        from fcfs.entrypoints.http.issue_route import IssueRoute

        monkeypatch.setattr(IssueRoute, "coupon_of", lambda self, scope: None)
    return str(request.param)
