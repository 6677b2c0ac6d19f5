"""10,000 idle result streams on one worker: what each costs in memory, and what they cost the issue path (issue 16, acceptance 3).

    .venv/bin/python -m bench.idle_streams [--streams 10000] [--seconds 10] [--connections 256]

`fcfs serve --workers 1` (lua-async, no consumer: every listener stays `pending`) on the
embedded default, or on the services the `FCFS_*` URLs name. Steps, in one run:
1. the issue rate with no stream open (wrk when installed, else fcfs's load generator),
   on a coupon of its own with stock far above demand;
2. `--streams` users admitted on a second coupon, each then opening
   `GET …/issued/{user}/stream` and hearing `pending` (then left idle, keep-alives only);
   the worker's resident memory before and after, divided by the streams: bytes per stream;
   (`fcfs serve --backpressure` above the streams: each open stream is a request in flight,
   and granian holds at most `backlog / workers` = 4096 per worker by default);
3. the same issue load again with every stream open; both rates side by side and their
   ratio (target ≥ 0.8); Redis subscriptions on the streams' channel (one, not one per stream);
4. every stream closed; the worker's subscriptions back to zero; the issue load once more,
   with no stream open, as a drift check: on a shared machine a rate moves between runs for
   reasons of its own, and a step-1 rate far from this one says the ratio is noise.

Beside each rate, the worker's CPU time per issue request (user + system, all its threads):
the figure that other processes on the machine disturb least, so the one to compare when
rates drift.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import redis

from bench.harness import ROOT, Load, drive, make_coupon, services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop

STOCK = 1_000_000


@contextmanager
def one_worker(log: Path, env: dict[str, str], in_flight: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`in_flight` is granian's backpressure: an open stream is a request in flight, so it must exceed the streams."""
    port = free_port()
    argv = [sys.executable, "-m", "fcfs.entrypoints.cli", "serve", "--port", str(port), "--workers", "1",
            "--no-embedded", "--no-consumer", "--backpressure", str(in_flight)]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield process, base
    finally:
        stop(process)


def worker(server: subprocess.Popen[bytes]) -> psutil.Process:
    """The granian worker: the largest process under the server."""
    processes = psutil.Process(server.pid).children(recursive=True) or [psutil.Process(server.pid)]
    return max(processes, key=lambda process: process.memory_info().rss)


def worker_rss(server: subprocess.Popen[bytes]) -> int:
    """Resident bytes of the granian worker."""
    return int(worker(server).memory_info().rss)


@dataclass(frozen=True)
class Measured:
    load: Load
    cpu_us: float  # the worker's CPU time per request answered


def measure(server: subprocess.Popen[bytes], base: str, path: str, args: argparse.Namespace, offset: int) -> Measured:
    process = worker(server)
    before = process.cpu_times()
    load = drive(base, path, seconds=args.seconds, connections=args.connections, offset=offset)
    after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return Measured(load, cpu * 1e6 / max(load.requests_per_second * args.seconds, 1.0))


class IdleStreams:
    """Raw connections that read up to their first event, then stay open and idle."""

    def __init__(self, base: str) -> None:
        parts = httpx.URL(base)
        self._host, self._port = parts.host, parts.port
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, coupon_id: int, users: list[int], at_once: int = 200) -> int:
        gate = asyncio.Semaphore(at_once)
        outcomes = await asyncio.gather(*(self._open_one(coupon_id, user, gate) for user in users))
        return sum(outcomes)

    async def _open_one(self, coupon_id: int, user: int, gate: asyncio.Semaphore) -> bool:
        async with gate, asyncio.timeout(60):
            reader, writer = await asyncio.open_connection(self._host, self._port)
            path = f"/api/v1/coupons/{coupon_id}/issued/{user}/stream"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n".encode())
            seen = b""
            while b"event: pending" not in seen:
                chunk = await reader.read(4096)
                if not chunk:
                    writer.close()
                    return False
                seen += chunk
            self.writers.append(writer)
            return True

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for writer in self.writers), return_exceptions=True)
        self.writers.clear()


def subscribers(settings: Settings, coupon_id: int) -> int:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        name = f"{settings.redis_prefix}:{{c:{coupon_id}}}:results"
        return int(dict(client.pubsub_numsub(name)).get(name.encode(), 0))
    finally:
        client.close()


def row(label: str, measured: Measured) -> str:
    load = measured.load
    return (
        f"{label:<28} {load.requests_per_second:>9.0f} {load.p50_ms:>8.1f} {load.p99_ms:>8.1f} {load.non_2xx:>7}"
        f" {measured.cpu_us:>12.0f}"
    )


async def run(args: argparse.Namespace, settings: Settings, server: subprocess.Popen[bytes], base: str) -> None:
    load_coupon = make_coupon(base, STOCK, settings)
    stream_coupon = make_coupon(base, STOCK, settings)
    path = f"/api/v1/coupons/{load_coupon}/issue"
    drive(base, path, seconds=2, connections=args.connections, offset=900_000_000)  # warm-up
    without = measure(server, base, path, args, offset=0)
    rate = without.load.requests_per_second
    print(f"without streams: {rate:.0f} req/s; admitting {args.streams} users", file=sys.stderr)

    users = list(range(1, args.streams + 1))
    admitted = await burst(base, issue_requests(stream_coupon, users), concurrency=200)
    assert admitted.by_code.get("202") == args.streams, admitted.by_code
    print("opening the streams", file=sys.stderr)
    streams = IdleStreams(base)
    await streams.open(stream_coupon, users[:100])  # the first subscription and code paths, before measuring
    before = worker_rss(server)
    opened = 100 + await streams.open(stream_coupon, users[100:])
    await asyncio.sleep(1.0)
    after = worker_rss(server)
    per_stream = (after - before) / max(opened - 100, 1)
    held = subscribers(settings, stream_coupon)

    with_streams = measure(server, base, path, args, offset=500_000_000)
    await streams.close()
    await asyncio.sleep(2.0)
    left = subscribers(settings, stream_coupon)
    closed = measure(server, base, path, args, offset=700_000_000)

    print(f"\none worker, lua-async, {args.connections} connections, {args.seconds} s per run ({without.load.tool})")
    print(f"{'issue load':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>7} {'CPU µs/req':>12}")
    print(row("no stream open", without))
    print(row(f"{opened:,} idle streams open", with_streams))
    print(row("every stream closed again", closed))
    ratio = with_streams.load.requests_per_second / rate if rate else 0.0
    drift = closed.load.requests_per_second / rate if rate else 0.0
    cpu = without.cpu_us / with_streams.cpu_us if with_streams.cpu_us else 0.0
    print(f"throughput with / without streams: {ratio:.2f} (target >= 0.8)")
    print(f"drift check, closed / without: {drift:.2f}; CPU per request, without / with: {cpu:.2f}")
    print(
        f"worker memory: {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB for {opened - 100:,} streams"
        f" = {per_stream / 1024:.1f} KiB per stream"
    )
    print(f"Redis subscriptions on the streams' coupon: {held} while open, {left} after every stream closed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=256)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="fcfs-idle-streams-"))
    env = {"FCFS_STRATEGY": "lua-async", "FCFS_RESULT_STREAM_LIFETIME_SECONDS": "3600"}
    in_flight = args.streams + args.connections + 1024
    with services() as settings, one_worker(log_dir / "server.log", env, in_flight) as (server, base):
        try:
            import uvloop

            uvloop.run(run(args, settings, server, base))
        except ImportError:
            asyncio.run(run(args, settings, server, base))


if __name__ == "__main__":
    main()
