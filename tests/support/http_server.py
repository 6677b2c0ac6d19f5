"""Starting real `fcfs serve` processes for tests, and creating loaded coupons over HTTP."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx

from fcfs import Settings
from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.runtime import stop, wait_ready


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `Settings.from_env()` in a child equal `settings`."""
    env = {}
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        env[f"FCFS_{spec.name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def start_server(settings: Settings, workers: int, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCFS_")}
    env |= settings_env(settings) | {"FCFS_DATA_DIR": str(tmp_path)}
    args = ["serve", "--port", str(port), "--workers", str(workers), "--no-embedded", "--no-consumer"]
    log = (tmp_path / "server.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fcfs.entrypoints.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
    except Exception:
        stop(process)
        raise RuntimeError((tmp_path / "server.log").read_text()[-3000:]) from None
    return process, base_url


def create_coupon(base_url: str, stock: int, name: str = "race") -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = client.post("/api/v1/coupons", json={"name": name, "totalQuantity": stock})
        coupon_id = int(created.json()["result"]["id"])
        assert client.post(f"/api/v1/coupons/{coupon_id}/stock").status_code == 200
    return coupon_id
