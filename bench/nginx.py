"""Two fcfs instances behind Debian's nginx on loopback vs the same two instances hit directly.

The invariants are checked from storage after each burst (rows == stock, one per user,
acked users == rows). Run: .venv/bin/python -m bench.nginx [--users 10000] [--stock 100]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.harness import fcfs_server, make_coupon, services
from fcfs.bootstrap.container import open_services
from fcfs.entrypoints.demo import granted_users, user_order
from fcfs.entrypoints.embedded import free_port, wait_for_port
from fcfs.entrypoints.loadgen import BurstResult, burst, issue_requests, run
from fcfs.entrypoints.runtime import spawn_consumer, stop

CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream fcfs {{ least_conn; server 127.0.0.1:{a}; server 127.0.0.1:{b}; keepalive 512; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://fcfs; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
  }}
}}
"""


async def audit(settings, coupon_id: int, result: BurstResult) -> str:
    granted = granted_users(result)
    async with open_services(settings) as fcfs:
        for _ in range(100):
            found = await fcfs.audit_coupon.execute(coupon_id)
            if granted <= found.row_users:
                break
            await asyncio.sleep(0.1)
    holds = found.rows <= found.total_quantity and found.duplicate_rows == 0 and found.row_users == granted
    return f"rows={found.rows} acked={len(granted)} duplicates={found.duplicate_rows} invariants={'hold' if holds else 'BROKEN'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--strategy", default="lua-async")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with services() as settings, ExitStack() as stack:
        log_dir = Path(settings.data_dir)
        a = stack.enter_context(fcfs_server(1, log_dir, args.strategy))
        b = stack.enter_context(fcfs_server(1, log_dir, args.strategy))
        if args.strategy == "lua-async":
            consumer = spawn_consumer(log_dir)
            stack.callback(stop, consumer)
        port = free_port()
        conf_dir = Path(tempfile.mkdtemp(prefix="fcfs-nginx-"))
        conf = conf_dir / "nginx.conf"
        conf.write_text(CONF.format(dir=conf_dir, a=a.rsplit(":", 1)[1], b=b.rsplit(":", 1)[1], port=port))
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf_dir), "-g", "daemon off;"])
        stack.callback(proxy.terminate)
        wait_for_port(port)
        time.sleep(0.2)
        through = f"http://127.0.0.1:{port}"
        order = user_order(args.users, args.users // 10)

        coupon = make_coupon(through, args.stock, settings)
        via_nginx = run(burst(through, issue_requests(coupon, order), concurrency=args.concurrency))
        print(
            f"through nginx (2 instances): {via_nginx.throughput:,.0f} req/s, p99 {via_nginx.percentile(0.99) * 1000:.0f} ms,"
            f" codes {dict(via_nginx.by_code)}; {asyncio.run(audit(settings, coupon, via_nginx))}"
        )

        coupon = make_coupon(a, args.stock, settings)
        half = len(order) // 2

        async def both() -> tuple[BurstResult, BurstResult]:
            return await asyncio.gather(
                burst(a, issue_requests(coupon, order[:half]), concurrency=args.concurrency // 2),
                burst(b, issue_requests(coupon, order[half:]), concurrency=args.concurrency // 2),
            )

        started = time.perf_counter()
        left, right = run(both())
        elapsed = time.perf_counter() - started
        direct = BurstResult(left.answers + right.answers, left.transport_errors + right.transport_errors, elapsed)
        print(
            f"direct (same 2 instances): {direct.throughput:,.0f} req/s, p99 {direct.percentile(0.99) * 1000:.0f} ms,"
            f" codes {dict(direct.by_code)}; {asyncio.run(audit(settings, coupon, direct))}"
        )
        print(f"nginx/direct = {via_nginx.throughput / direct.throughput:.2f}")


if __name__ == "__main__":
    main()
