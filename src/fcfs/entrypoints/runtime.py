"""Process orchestration shared by `fcfs serve` and `fcfs demo`: embedded services, children, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from fcfs.bootstrap.container import migrate
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.embedded import embedded_stack

if TYPE_CHECKING:
    from collections.abc import Iterator


def absolute_data_dir(settings: Settings) -> Path:
    """The data directory as an absolute path, exported to this process's environment.

    Every child (Redis, the broker, workers, the consumer) is handed this path, and some of them
    start in it: a relative one would be resolved twice (`Can't chdir to '.fcfs'`).
    """
    data_dir = Path(settings.data_dir).resolve()
    os.environ["FCFS_DATA_DIR"] = str(data_dir)
    return data_dir


@contextlib.contextmanager
def backing_services(settings: Settings, *, embedded: bool = True) -> Iterator[Settings]:
    """Start embedded Redis and broker for every URL left unset, migrate the database, yield the result.

    The URLs go into this process's environment, so every child it spawns shares them.
    """
    need_redis = embedded and not settings.redis_url
    need_broker = embedded and not settings.kafka_bootstrap_servers
    data_dir = absolute_data_dir(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    with embedded_stack(need_redis=need_redis, need_broker=need_broker, workdir=data_dir):
        effective = Settings.from_env()
        asyncio.run(migrate(effective))
        if effective.kafka_bootstrap_servers:
            asyncio.run(ensure_topics(effective))
        yield effective


def spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
    )


def spawn_server(port: int, workers: int, log_dir: Path, *, strategy: str | None = None) -> subprocess.Popen[bytes]:
    if strategy:
        os.environ["FCFS_STRATEGY"] = strategy
    args = ["fcfs.entrypoints.cli", "serve", "--port", str(port), "--workers", str(workers), "--no-consumer"]
    return spawn(args, log_dir / f"server-{port}.log")


def spawn_consumer(log_dir: Path) -> subprocess.Popen[bytes]:
    return spawn(["fcfs.entrypoints.consumer"], log_dir / "consumer.log")


def wait_ready(base_url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before it was ready")
        try:
            answer = httpx.get(f"{base_url}/ready", timeout=2.0)
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        else:
            if answer.status_code == 200:
                return
            last = answer.text
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready after {timeout}s: {last}")


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)
