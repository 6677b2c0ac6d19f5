"""Issue #14, acceptance 3: the audit lists each live-control action with its request id.

A real `fcfs serve` on MariaDB + Redis + the broker (lua-async), driven over HTTP with the
admin token; `fcfs reconcile` run as the operator runs it, from the command line; then
`GET …/audit` read back page by page.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import settings_env, start_server

TOKEN = "audit-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def settings(pipeline_settings_on_services: Settings) -> Settings:
    settings = dataclasses.replace(pipeline_settings_on_services, strategy="lua-async", admin_token=TOKEN)
    await ensure_topics(settings)
    return settings


@pytest.fixture
def base_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    process, url = start_server(settings, 1, tmp_path / "server")
    try:
        yield url
    finally:
        stop(process)


def reconcile_from_the_command_line(settings: Settings, coupon_id: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCFS_")} | settings_env(settings)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "fcfs.entrypoints.cli", "reconcile", "--coupon", str(coupon_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def whole_trail(client: httpx.Client, coupon_id: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    query = "?limit=3"
    while True:
        response = client.get(f"/api/v1/coupons/{coupon_id}/audit{query}", headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()["result"]
        entries += page["entries"]
        if page["nextBefore"] is None:
            return entries
        query = f"?limit=3&before={page['nextBefore']}"


def test_the_audit_lists_every_action_with_its_request_id(settings: Settings, base_url: str) -> None:
    answered: list[tuple[str, str, str]] = []  # (action, request id, code) in the order sent

    with httpx.Client(base_url=base_url, timeout=30) as client:

        def act(action: str, method: str, path: str, body: Any = None) -> httpx.Response:
            request_id = f"acc-{action}-{len(answered)}"
            headers = ADMIN | {"X-Request-ID": request_id}
            response = client.request(method, path, json=body, headers=headers)
            assert response.headers["x-request-id"] == request_id
            assert "x-fcfs-audit" not in response.headers
            answered.append((action, request_id, response.json()["code"]))
            return response

        created = act("create", "POST", "/api/v1/coupons", {"name": "audited", "totalQuantity": 10})
        coupon_id = int(created.json()["result"]["id"])
        base = f"/api/v1/coupons/{coupon_id}"
        act("stock", "POST", f"{base}/stock")
        act("pause", "POST", f"{base}/pause")
        act("resume", "POST", f"{base}/resume")
        act("top-up", "POST", f"{base}/stock", {"add": 5})
        act("close", "POST", f"{base}/close")
        act("resume", "POST", f"{base}/resume")  # refused: a closed coupon stays closed

        reconciled = reconcile_from_the_command_line(settings, coupon_id)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr

        act("delete", "DELETE", base)
        trail = whole_trail(client, coupon_id)

    assert [code for _, _, code in answered] == ["201", "200", "200", "200", "200", "200", "C005", "200"]
    http_rows = [(e["action"], e["requestId"], e["outcome"]) for e in trail if e["action"] != "reconcile"]
    assert http_rows == answered[::-1]  # newest first, each with the request id it carried
    assert all(e["clientAddress"] == "127.0.0.1" and e["actor"] == "admin" for e in trail if e["action"] != "reconcile")

    (reconcile,) = [e for e in trail if e["action"] == "reconcile"]
    assert reconcile["outcome"] == "200"
    assert reconcile["requestId"].startswith("cli-")
    assert reconcile["actor"].startswith("cli:")
    assert reconcile["parameters"]["dryRun"] is False
    assert [e["action"] for e in trail][:2] == ["delete", "reconcile"]  # it ran between close and delete
    assert all(e["couponId"] == coupon_id for e in trail)
    assert [e["id"] for e in trail] == sorted((e["id"] for e in trail), reverse=True)
