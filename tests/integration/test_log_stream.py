"""Acceptance 7 of the operations issue: one log stream, even while the broker is down under load.

`fcfs serve` (granian master + 1 worker) runs on MariaDB, Redis and a broker of the test's own;
a few hundred issue requests go out before, during and after the broker is stopped for a few
seconds. Everything the server wrote to stdout and stderr must be one JSON object per line,
and the libraries' records (aiokafka's, granian's) must be among them, not only fcfs's own.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from fcfs.entrypoints.embedded import EmbeddedProcess
from fcfs.entrypoints.loadgen import burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import create_coupon, start_server
from tests.support.pipeline import pipeline_settings

BROKER_DOWN_SECONDS = 4.0


def log_records(log: Path) -> list[dict[str, Any]]:
    """Every non-empty line of the server's output as a JSON object; the first line that is not one fails."""
    records = []
    for number, line in enumerate(log.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"line {number} of the server's output is not JSON: {line!r}") from None
        assert isinstance(record, dict), f"line {number} is JSON but not an object: {line!r}"
        records.append(record)
    return records


async def test_every_line_is_one_json_object_while_the_broker_is_stopped_under_load(
    database_url: str,
    redis_server_url: str,
    redis_prefix: str,
    tansu: EmbeddedProcess,
    topics: tuple[str, str],
    tmp_path: Path,
) -> None:
    settings = pipeline_settings(
        database_url,
        f"127.0.0.1:{tansu.port}",
        topics,
        tmp_path,
        redis_url=redis_server_url,
        redis_prefix=redis_prefix,
        strategy="lua-async",
        producer_send_timeout=1.0,
        sold_out_ttl_seconds=0.0,
    )
    process, base_url = await asyncio.to_thread(start_server, settings, 1, tmp_path)
    try:
        coupon_id = await asyncio.to_thread(create_coupon, base_url, 10_000, "log-stream")
        before = await burst(base_url, issue_requests(coupon_id, range(1, 101)), concurrency=20)
        await asyncio.to_thread(tansu.kill)
        down = burst(base_url, issue_requests(coupon_id, range(101, 301)), concurrency=50)
        during, _ = await asyncio.gather(down, asyncio.sleep(BROKER_DOWN_SECONDS))
        await asyncio.to_thread(tansu.restart)
        after = await burst(base_url, issue_requests(coupon_id, range(301, 401)), concurrency=20)
    finally:
        await asyncio.to_thread(stop, process)
    assert process.returncode is not None and process.returncode != -9, "the server stopped on SIGTERM"

    records = log_records(tmp_path / "server.log")
    loggers = {str(record.get("logger", "")) for record in records}
    assert before.by_code == {"202": 100}, before.by_code
    assert "S002" in during.by_code, f"the broker was down: some attempts must have failed ({during.by_code})"
    assert sum(after.by_code.values()) == 100
    assert any(name.startswith("aiokafka") for name in loggers), f"no aiokafka record among {sorted(loggers)}"
    assert "_granian" in loggers, f"no granian record among {sorted(loggers)}"
    assert any(name.startswith("fcfs") for name in loggers), f"no fcfs record among {sorted(loggers)}"
    assert all({"event", "level", "timestamp"} <= set(record) for record in records)
    failed = [record for record in records if record.get("event") == "request failed"]
    assert failed and all(record.get("request_id") for record in failed), "fcfs's lines carry the request id"


def test_log_records_refuses_a_line_that_is_not_json(tmp_path: Path) -> None:
    """The check above can fail: a raw traceback line is caught."""
    log = tmp_path / "server.log"
    log.write_text('{"event": "ok", "level": "info"}\nTraceback (most recent call last):\n')
    with pytest.raises(AssertionError, match="line 2"):
        log_records(log)
