"""Shared bench mechanics: backing services, servers, coupons, and one load driver for every run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.runtime import backing_services, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent

WRK_SCRIPT = """
local tid = 0
function setup(thread)
  thread:set("tid", tid)
  tid = tid + 1
end
local counter = 0
function request()
  counter = counter + 1
  local uid = (tid + 1) * 1000000000 + counter + %(offset)d
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json"}, '{"userId":' .. uid .. '}')
end
"""


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    tool: str


@contextmanager
def services() -> Iterator[Settings]:
    if "FCFS_DATA_DIR" not in os.environ and not os.environ.get("FCFS_DATABASE_URL"):
        os.environ["FCFS_DATA_DIR"] = tempfile.mkdtemp(prefix="fcfs-bench-")
    # A database recreated between runs gives its ids again; keys of an earlier run's coupon 1
    # under the same prefix would then answer for the new one (every user "already issued").
    os.environ.setdefault("FCFS_REDIS_PREFIX", f"fcfs-bench-{os.urandom(4).hex()}")
    with backing_services(Settings.from_env()) as effective:
        yield effective


@contextmanager
def server(
    argv: list[str], port: int, log: Path, env: dict[str, str] | None = None, health: str = "/health"
) -> Iterator[str]:
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + health, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        stop(process)


def fcfs_server(workers: int, log_dir: Path, strategy: str, extra_env: dict[str, str] | None = None):
    port = free_port()
    argv = [sys.executable, "-m", "fcfs.entrypoints.cli", "serve", "--port", str(port), "--workers", str(workers),
            "--no-embedded", "--no-consumer"]  # fmt: skip
    return server(
        argv, port, log_dir / f"fcfs-{strategy}-{workers}.log", {"FCFS_STRATEGY": strategy, **(extra_env or {})}
    )


def echo_server(workers: int, log_dir: Path):
    port = free_port()
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop",
            "--workers", str(workers), "--port", str(port), "--no-ws", "bench.echo_app:create_app"]  # fmt: skip
    return server(argv, port, log_dir / f"echo-{workers}.log")


def raw_echo_server(workers: int, log_dir: Path):
    port = free_port()
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop",
            "--workers", str(workers), "--port", str(port), "--no-ws", "bench.raw_echo:app"]  # fmt: skip
    return server(argv, port, log_dir / f"raw-echo-{workers}.log", health="/api/v1/coupons/1/issue")


def make_coupon(base: str, stock: int, settings: Settings) -> int:
    headers = {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}
    wait_ready(base)
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
        created = client.post("/api/v1/coupons", json={"name": "bench", "totalQuantity": stock})
        created.raise_for_status()
        coupon_id = int(created.json()["result"]["id"])
        client.post(f"/api/v1/coupons/{coupon_id}/stock", json={}).raise_for_status()
    return coupon_id


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if found is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]


def drive(base: str, path: str, *, seconds: int, connections: int, offset: int = 0, threads: int = 1) -> Load:
    """wrk when installed (C, negligible cost per request), else fcfs's own load generator."""
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT % {"path": path, "offset": offset})
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--latency",
                "-s",
                script.name,
                base,
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
        errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
        return Load(rps, p50, p99, non2xx, errors, "wrk")

    from fcfs.entrypoints.loadgen import Request, burst, run

    total = seconds * 3000
    requests = [Request("POST", path, b'{"userId":%d}' % (offset + i + 1)) for i in range(total)]
    result = run(burst(base, requests, concurrency=connections))
    non2xx = sum(n for status, n in result.by_status.items() if status >= 300)
    return Load(result.throughput, result.percentile(0.5) * 1000, result.percentile(0.99) * 1000, non2xx,
                sum(result.transport_errors.values()), "fcfs loadgen")  # fmt: skip
