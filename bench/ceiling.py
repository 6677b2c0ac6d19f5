"""Issue endpoint (lua-async) vs the framework's echo ceiling, same server, same workers, same driver.

Three servers per row, each driven by the same tool (wrk when installed) for the same time:
- raw: the echo as a bare ASGI callable (the floor under any framework; `bench/raw_echo.py`),
- echo: the echo as a minimal Litestar handler, same body type and envelope (`bench/echo_app.py`),
- issue: fcfs's issue endpoint, lua-async, stock large enough never to sell out.
`issue/ceiling` is issue / echo (the acceptance figure); `issue/raw` is issue / raw.
Rows for several connection counts: the issue path waits on Redis and the broker, so it
needs more requests in flight than an echo to keep a worker busy (Little's law).

Run: .venv/bin/python -m bench.ceiling [--seconds 10] [--connections 64,256] [--workers 1,2]
Uses FCFS_* service URLs when set, else the embedded default (Redis, tansu, SQLite).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.harness import drive, echo_server, fcfs_server, make_coupon, raw_echo_server, services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", default="64,256")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    print(
        f"{'workers':>7} {'conns':>5} {'raw req/s':>10} {'echo req/s':>11} {'issue req/s':>12}"
        f" {'issue/ceiling':>14} {'issue/raw':>10} {'issue p99 ms':>13} {'non-2xx':>8}"
    )
    path = "/api/v1/coupons/1/issue"
    with services() as settings:
        log_dir = Path(settings.data_dir)
        for workers in [int(w) for w in args.workers.split(",")]:
            for connections in [int(c) for c in args.connections.split(",")]:
                with raw_echo_server(workers, log_dir) as base:
                    raw = drive(base, path, seconds=args.seconds, connections=connections)
                with echo_server(workers, log_dir) as base:
                    echo = drive(base, path, seconds=args.seconds, connections=connections)
                with fcfs_server(workers, log_dir, "lua-async") as base:
                    coupon = make_coupon(base, 10_000_000, settings)
                    issue_path = f"/api/v1/coupons/{coupon}/issue"
                    drive(base, issue_path, seconds=2, connections=connections, offset=900_000_000)  # warm-up
                    issue = drive(base, issue_path, seconds=args.seconds, connections=connections)
                print(
                    f"{workers:>7} {connections:>5} {raw.requests_per_second:>10.0f} {echo.requests_per_second:>11.0f}"
                    f" {issue.requests_per_second:>12.0f}"
                    f" {issue.requests_per_second / echo.requests_per_second:>14.2f}"
                    f" {issue.requests_per_second / raw.requests_per_second:>10.2f}"
                    f" {issue.p99_ms:>13.1f} {issue.non_2xx + issue.errors:>8}  ({issue.tool})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
