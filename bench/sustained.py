"""Sustained demand: does persistence keep up with admission? (issue #15, acceptance 3)

    .venv/bin/python -m bench.sustained [--seconds 60] [--workers 2] [--connections 256] [--batch 2000]

`fcfs serve --workers 2` with the default `lua-async` strategy on MariaDB
(`FCFS_BENCH_DATABASE_URL`, default `mysql+aiomysql://root@127.0.0.1:3306`; a database of
its own, dropped afterwards), the Redis at `FCFS_BENCH_REDIS_URL` (default
`redis://127.0.0.1:6379/0`, keys under a prefix of its own) and an embedded tansu broker,
with one `fcfs consume` process beside it. A coupon with stock far above demand takes
`--seconds` of issue attempts from distinct users at the API's full rate (wrk when
installed, else fcfs's load generator). Once a second it prints what the gate accepted
(stock taken in Redis), what the database holds (`issued_quantity`) and the difference
(the lag: accepted, not yet persisted), per second and in total; when the load stops it
times how long the lag takes to reach zero. Writes `sustained.png` (accepted/s,
persisted/s and lag over time) to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.harness import drive, fcfs_server, make_coupon, services
from fcfs.entrypoints.runtime import stop

STOCK = 5_000_000


@dataclass(frozen=True)
class Sample:
    at: float
    accepted: int
    persisted: int

    @property
    def lag(self) -> int:
        return self.accepted - self.persisted


async def observe(redis: aioredis.Redis, engine: AsyncEngine, prefix: str, coupon_id: int, started: float) -> Sample:
    remaining = int(await redis.get(f"{prefix}:{{c:{coupon_id}}}:stock") or 0)
    async with engine.connect() as conn:
        query = text("SELECT issued_quantity FROM coupon WHERE id = :id")
        persisted = int((await conn.execute(query, {"id": coupon_id})).scalar_one())
    return Sample(time.perf_counter() - started, STOCK - remaining, persisted)


def line(previous: Sample, now: Sample) -> str:
    span = max(now.at - previous.at, 1e-9)
    accepted = (now.accepted - previous.accepted) / span
    persisted = (now.persisted - previous.persisted) / span
    return f"{now.at:6.1f} s  accepted/s {accepted:>8,.0f}  persisted/s {persisted:>8,.0f}  lag {now.lag:>8,}"


async def warmed_up(base: str, settings: Any, engine: AsyncEngine, timeout: float = 90.0) -> None:
    """One issue on a coupon of its own, persisted: the consumer has joined its group, so the lag is not its start-up."""
    import httpx

    coupon_id = make_coupon(base, 10, settings)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        (await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 1})).raise_for_status()
    deadline = time.monotonic() + timeout
    async with engine.connect() as conn:
        query = text("SELECT issued_quantity FROM coupon WHERE id = :id")
        while int((await conn.execute(query, {"id": coupon_id})).scalar_one()) < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("the consumer persisted nothing in 90 s")
            await asyncio.sleep(0.1)
            await conn.rollback()


async def run(args: Any, settings: Any, base: str, prefix: str) -> list[Sample]:
    redis = aioredis.from_url(settings.redis_url)
    engine = create_async_engine(settings.database_url, pool_size=1)
    samples: list[Sample] = []
    try:
        await warmed_up(base, settings, engine)
        coupon_id = make_coupon(base, STOCK, settings)
        started = time.perf_counter()
        samples.append(await observe(redis, engine, prefix, coupon_id, started))
        path = f"/api/v1/coupons/{coupon_id}/issue"
        load = asyncio.create_task(
            asyncio.to_thread(drive, base, path, seconds=args.seconds, connections=args.connections)
        )
        while not load.done():
            await asyncio.sleep(1.0 - (time.perf_counter() - started) % 1.0)
            samples.append(await observe(redis, engine, prefix, coupon_id, started))
            print(line(samples[-2], samples[-1]), flush=True)
        result = await load
        stopped = samples[-1].at
        print(f"load: {result.requests_per_second:,.0f} req/s ({result.tool}), non-2xx {result.non_2xx}, "
              f"errors {result.errors}, p99 {result.p99_ms:.1f} ms", flush=True)  # fmt: skip
        deadline = time.perf_counter() + 120
        while samples[-1].lag > 0 and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            samples.append(await observe(redis, engine, prefix, coupon_id, started))
        summarise(samples, stopped, args.seconds)
    finally:
        await redis.aclose()
        await engine.dispose()
    return samples


def summarise(samples: list[Sample], stopped: float, seconds: int) -> None:
    last = samples[-1]
    at_stop = max((s for s in samples if s.at <= stopped + 1e-6), key=lambda s: s.at)
    print(f"\n{seconds} s of load: accepted {at_stop.accepted:,} ({at_stop.accepted / max(at_stop.at, 1e-9):,.0f}/s), "
          f"persisted {at_stop.persisted:,} ({at_stop.persisted / max(at_stop.at, 1e-9):,.0f}/s), "
          f"lag when the load stopped {at_stop.lag:,}; max lag {max(s.lag for s in samples):,}")  # fmt: skip
    if last.lag == 0:
        print(f"drained {last.at - stopped:.2f} s after the load stopped ({last.persisted:,} rows)")
    else:
        print(f"NOT drained: lag {last.lag:,} two minutes after the load stopped")


def chart(samples: list[Sample], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_second = [(b.at, (b.accepted - a.accepted) / (b.at - a.at), (b.persisted - a.persisted) / (b.at - a.at))
                  for a, b in itertools.pairwise(samples) if b.at - a.at >= 0.5]  # fmt: skip
    figure, (rates, lag) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    rates.plot([p[0] for p in per_second], [p[1] for p in per_second], label="accepted/s")
    rates.plot([p[0] for p in per_second], [p[2] for p in per_second], label="persisted/s")
    rates.set_ylabel("events/s")
    rates.legend()
    rates.set_title("lua-async under sustained demand: admission vs persistence")
    lag.plot([s.at for s in samples], [s.lag for s in samples], color="tab:red")
    lag.set_ylabel("lag (accepted − persisted)")
    lag.set_xlabel("seconds")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sustained.png"
    figure.savefig(path, dpi=100)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--out", default="fcfs-report")
    args = parser.parse_args()
    server = os.environ.get("FCFS_BENCH_DATABASE_URL", "mysql+aiomysql://root@127.0.0.1:3306")
    name = f"fcfs_sustained_{uuid.uuid4().hex[:8]}"
    prefix = f"fcfs-sustained-{uuid.uuid4().hex[:8]}"
    asyncio.run(_database(server, f"CREATE DATABASE `{name}`"))
    os.environ.update({
        "FCFS_DATABASE_URL": f"{server}/{name}",
        "FCFS_REDIS_URL": os.environ.get("FCFS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "FCFS_REDIS_PREFIX": prefix,
        "FCFS_DATA_DIR": tempfile.mkdtemp(prefix="fcfs-sustained-"),
        "FCFS_CONSUMER_BATCH": str(args.batch),
        "FCFS_LOG_LEVEL": "warning",
    })  # fmt: skip
    try:
        with services() as settings:
            log_dir = Path(settings.data_dir)
            consumer = _consumer(log_dir)
            try:
                with fcfs_server(args.workers, log_dir, "lua-async") as base:
                    samples = asyncio.run(run(args, settings, base, prefix))
            finally:
                stop(consumer)
        print(f"chart: {chart(samples, Path(args.out))}")
    finally:
        asyncio.run(_database(server, f"DROP DATABASE IF EXISTS `{name}`"))
        asyncio.run(_drop_keys(os.environ["FCFS_REDIS_URL"], prefix))


def _consumer(log_dir: Path) -> Any:
    import subprocess

    log = (log_dir / "consumer.log").open("ab")
    argv = [sys.executable, "-m", "fcfs.entrypoints.consumer"]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


async def _database(server: str, statement: str) -> None:
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


async def _drop_keys(url: str, prefix: str) -> None:
    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1_000):
            await client.delete(key)
    finally:
        await client.aclose()


if __name__ == "__main__":
    main()
