"""`fcfs consume --check`, the consumer's health check (issue #14, acceptance 5; deploy/docker-compose.yml uses it).

The check and the consumer run as an operator and the container engine run them: the
installed `fcfs` script in child processes sharing one data dir.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from fcfs import Settings
from tests.support.drivers import consumer_process, eventually_true
from tests.support.http_server import settings_env
from tests.support.pipeline import pipeline_settings

FCFS = str(Path(sys.executable).with_name("fcfs"))


async def check(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FCFS_")} | settings_env(settings)
    argv = [FCFS, "consume", "--check"]
    return await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, text=True, timeout=60)


async def test_consume_check_exits_1_without_a_consumer_and_0_while_one_runs(
    database_url: str, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    settings = pipeline_settings(database_url, kafka_bootstrap, topics, tmp_path)

    before = await check(settings)
    with consumer_process(settings, tmp_path / "consumer.log") as consumer:

        async def healthy() -> bool:
            assert consumer.running(), consumer.tail()
            return (await check(settings)).returncode == 0

        alive = await eventually_true(healthy, timeout=60.0, interval=0.5)
        during = await check(settings)
    after = await check(settings)

    assert before.returncode == 1, before.stdout + before.stderr
    assert "not seen polling" in before.stdout
    assert alive, consumer.tail()
    assert during.returncode == 0 and "consumer alive" in during.stdout, during.stdout + during.stderr
    assert after.returncode == 1, "a consumer that stopped is not alive"
