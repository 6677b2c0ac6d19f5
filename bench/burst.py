"""10,000 connections opened at once against stock 100: latency percentiles and error counts.

The server is warmed first, as a deployed one is before a sale opens: a burst of
`--warmup` requests on another coupon (connections to Redis and the broker up, scripts
loaded); then every connection opens, and all users are released together on a fresh
coupon. `--warmup 0` measures a cold server. Latency is per request, from its send.

Run: .venv/bin/python -m bench.burst [--connections 10000] [--workers 2] [--warmup 2000]
Raises the open-file limit for itself; the server's backlog is 4096 (`fcfs serve`).
"""

from __future__ import annotations

import argparse
import resource
from pathlib import Path

from bench.harness import fcfs_server, make_coupon, services
from fcfs.entrypoints.demo import user_order
from fcfs.entrypoints.loadgen import burst, issue_requests, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategy", default="lua-async")
    parser.add_argument("--warmup", type=int, default=2_000)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.connections)), hard))
    with services() as settings, fcfs_server(args.workers, Path(settings.data_dir), args.strategy) as base:
        if args.warmup:
            warm = make_coupon(base, args.stock, settings)
            run(burst(base, issue_requests(warm, range(1, args.warmup + 1)), concurrency=min(args.warmup, 500)))
        coupon = make_coupon(base, args.stock, settings)
        order = user_order(args.connections, 0)
        result = run(burst(base, issue_requests(coupon, order), concurrency=args.connections))
    summary = result.summary()
    business = {"200", "202", "C002", "C003"}
    other = {code: n for code, n in result.by_code.items() if code not in business}
    print(
        f"connections={args.connections} workers={args.workers} strategy={args.strategy} stock={args.stock}"
        f" warmup={args.warmup}"
    )
    print(f"answered={summary['answered']} by code={summary['byCode']}")
    print(f"latency ms={summary['latencyMs']}")
    print(f"errors other than sold out / already issued: {sum(other.values()) + sum(result.transport_errors.values())}"
          f" {other} {dict(result.transport_errors)}")  # fmt: skip


if __name__ == "__main__":
    main()
