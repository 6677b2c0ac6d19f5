"""A strategy declared by another distribution's entry point shows up in `fcfs strategies` and can be chosen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def plugin_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed-looking distribution (a dist-info on sys.path) declaring `echo` in `fcfs.strategies`."""
    dist = tmp_path / "fcfs_echo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fcfs-echo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[fcfs.strategies]\necho = tests.support.plugin_strategy:EchoStrategy\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_fcfs_strategies_lists_the_plugin(plugin_distribution: Path) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(plugin_distribution), str(ROOT)]), "COLUMNS": "200"}
    listed = subprocess.run(
        [sys.executable, "-m", "fcfs.entrypoints.cli", "strategies"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "echo" in listed
    assert "Reports the user's existing row" in listed
    assert "lua-async" in listed


async def test_the_plugin_can_be_selected_per_request(plugin_distribution: Path) -> None:
    settings = Settings(strategy="lua", sold_out_ttl_seconds=0)  # no shortcut: every answer is the strategy's
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        created = await client.post("/api/v1/coupons", json={"name": "c", "totalQuantity": 5})
        coupon_id = created.json()["result"]["id"]
        await client.post(f"/api/v1/coupons/{coupon_id}/stock")
        echoed = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=echo", json={"userId": 1})
        assert echoed.json()["code"] == "C003"  # echo issues nothing: no row yet
        issued = await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
        assert issued.json()["code"] == "200"
        again = await client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=echo", json={"userId": 1})
        assert again.json()["code"] == "C002"  # echo sees the row the default strategy made
