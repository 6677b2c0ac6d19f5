"""Issue endpoint (lua-async) vs the framework's echo ceiling, same server, same workers, same driver.

Run: .venv/bin/python -m bench.ceiling [--seconds 10] [--connections 64]
Uses FCFS_* service URLs when set, else the embedded default (Redis, tansu, SQLite).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.harness import drive, echo_server, fcfs_server, make_coupon, services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    print(
        f"{'workers':>7} {'echo req/s':>11} {'issue req/s':>12} {'issue/ceiling':>14} {'issue p99 ms':>13} {'non-2xx':>8}"
    )
    with services() as settings:
        log_dir = Path(settings.data_dir)
        for workers in [int(w) for w in args.workers.split(",")]:
            with echo_server(workers, log_dir) as base:
                echo = drive(base, "/api/v1/coupons/1/issue", seconds=args.seconds, connections=args.connections)
            with fcfs_server(workers, log_dir, "lua-async") as base:
                coupon = make_coupon(base, 10_000_000, settings)
                path = f"/api/v1/coupons/{coupon}/issue"
                drive(base, path, seconds=2, connections=args.connections, offset=900_000_000)  # warm-up
                issue = drive(base, path, seconds=args.seconds, connections=args.connections)
            ratio = issue.requests_per_second / echo.requests_per_second
            print(
                f"{workers:>7} {echo.requests_per_second:>11.0f} {issue.requests_per_second:>12.0f} {ratio:>14.2f}"
                f" {issue.p99_ms:>13.1f} {issue.non_2xx:>8}  ({issue.tool})"
            )


if __name__ == "__main__":
    main()
