"""Every strategy at the same burst (default 10,000 users + 1,000 repeats), req/s and p95, side by side.

Run: FCFS_DATABASE_URL=mysql+aiomysql://root@127.0.0.1:3306/fcfs_bench FCFS_REDIS_URL=redis://127.0.0.1:6379/0 \
     .venv/bin/python -m bench.strategies [--stock 1000] [--workers 1]
(the database must exist; `fcfs migrate` runs first). Without FCFS_* URLs it uses the embedded
default, where the row-lock strategies are skipped (SQLite has no row locks).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.harness import services
from fcfs.bootstrap.strategies import discover
from fcfs.entrypoints.demo import Scenario, run_scenario, skip_reason


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1_000)
    parser.add_argument("--stock", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--strategies", default="all")
    args = parser.parse_args()
    factories = discover()
    names = sorted(factories) if args.strategies == "all" else args.strategies.split(",")
    rates: dict[str, float] = {}
    print(f"{'strategy':<20} {'req/s':>8} {'p95 ms':>8} {'p99 ms':>8} {'issued':>7} {'over':>5} {'errors':>6}")
    with services() as settings:
        for name in names:
            reason = skip_reason(settings, factories, name)
            if reason:
                print(f"{name:<20} skipped: {reason}")
                continue
            scenario = Scenario(name, args.workers, args.users, args.repeats, args.stock, args.concurrency)
            result = run_scenario(settings, scenario, Path(settings.data_dir))
            latency = result["latencyMs"]
            rates[name] = float(result["requestsPerSecond"])  # type: ignore[arg-type]
            print(
                f"{name:<20} {rates[name]:>8.0f} {latency['p95']:>8.1f} {latency['p99']:>8.1f}"  # type: ignore[index]
                f" {result['issued']:>7} {result['overIssued']:>5} {result['errors']:>6}"
            )
    if "lua-async" in rates and "pessimistic-lock" in rates:
        print(f"lua-async / pessimistic-lock = {rates['lua-async'] / rates['pessimistic-lock']:.2f}")


if __name__ == "__main__":
    main()
