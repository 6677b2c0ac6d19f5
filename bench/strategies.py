"""Every strategy at the same burst (default 10,000 users + 1,000 repeats), req/s and p95, side by side.

Two stocks by default, because they measure different things:
- stock 10,000 (= users): every attempt is decided by the strategy itself, so the figures
  compare the strategies (`lua-async / pessimistic-lock` is the acceptance ratio);
- stock 100: a flash sale's tail. Once the coupon is sold out, the in-process sold-out flag
  answers every strategy's attempts alike, so the strategies' rates converge.
"other answers" are the codes besides issued / accepted / sold out / already issued: load the
strategy shed (S002 bulkhead full, S003 lock wait over, S001 a timeout) and nothing issued for them.

Run: FCFS_DATABASE_URL=mysql+aiomysql://root@127.0.0.1:3306/fcfs_bench FCFS_REDIS_URL=redis://127.0.0.1:6379/0 \
     .venv/bin/python -m bench.strategies [--stock 10000,100] [--workers 1] [--strategies all]
(the database must exist; `fcfs migrate` runs first). Without FCFS_* URLs it uses the embedded
default, where the row-lock strategies are skipped (SQLite has no row locks).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.harness import services
from fcfs.bootstrap.plugins import discover
from fcfs.entrypoints.demo import Scenario, run_scenario, skip_reason


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1_000)
    parser.add_argument("--stock", default="10000,100")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--strategies", default="all")
    args = parser.parse_args()
    factories = discover()
    names = sorted(factories) if args.strategies == "all" else args.strategies.split(",")
    with services() as settings:
        for stock in [int(s) for s in args.stock.split(",")]:
            rates: dict[str, float] = {}
            print(f"\nstock {stock}, {args.users} users + {args.repeats} repeats, {args.workers} worker(s)")
            print(
                f"{'strategy':<20} {'req/s':>8} {'p95 ms':>8} {'p99 ms':>8} {'issued':>7} {'over':>5}"
                f" {'acked-no-row':>12} {'other answers (code: n)'}"
            )
            for name in names:
                reason = skip_reason(settings, factories, name)
                if reason:
                    print(f"{name:<20} skipped: {reason}")
                    continue
                scenario = Scenario(name, args.workers, args.users, args.repeats, stock, args.concurrency)
                result = run_scenario(settings, scenario, Path(settings.data_dir))
                latency = result["latencyMs"]
                rates[name] = float(result["requestsPerSecond"])  # type: ignore[arg-type]
                others = result["errorCodes"] | result["transportErrors"]  # type: ignore[operator]
                print(
                    f"{name:<20} {rates[name]:>8.0f} {latency['p95']:>8.1f} {latency['p99']:>8.1f}"  # type: ignore[index]
                    f" {result['issued']:>7} {result['overIssued']:>5} {result['ackedWithoutRow']:>12} {others or ''}",
                    flush=True,
                )
            if "lua-async" in rates and "pessimistic-lock" in rates:
                ratio = rates["lua-async"] / rates["pessimistic-lock"]
                print(f"stock {stock}: lua-async / pessimistic-lock = {ratio:.2f}")


if __name__ == "__main__":
    main()
