"""The load tool's own ceiling: CPU seconds it spends per request, against the echo endpoint.

Its one-core ceiling is 1 / (CPU per request); the run also prints wrk's figure on the same
server for comparison. Run: .venv/bin/python -m bench.loadgen_ceiling [--requests 30000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench.harness import drive, echo_server
from fcfs.entrypoints.loadgen import Request, burst, run


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    path = "/api/v1/coupons/1/issue"
    requests = [Request("POST", path, b'{"userId":%d}' % (i + 1)) for i in range(args.requests)]
    with echo_server(args.workers, Path(tempfile.mkdtemp(prefix="fcfs-bench-"))) as base:
        wrk = drive(base, path, seconds=5, connections=args.connections)
        started_cpu, started = cpu_seconds(), time.perf_counter()
        result = run(burst(base, requests, concurrency=args.connections))
        cpu, wall = cpu_seconds() - started_cpu, time.perf_counter() - started
    per_request_us = cpu / len(result.answers) * 1e6
    print(
        f"fcfs loadtest: {result.throughput:,.0f} req/s against echo, {per_request_us:.1f} µs CPU per request"
        f" → one-core ceiling ≈ {1e6 / per_request_us:,.0f} req/s (wall {wall:.1f}s, CPU {cpu:.1f}s)"
    )
    print(f"wrk ({wrk.tool}) on the same server: {wrk.requests_per_second:,.0f} req/s")


if __name__ == "__main__":
    main()
