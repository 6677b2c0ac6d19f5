"""What a new user does first, exactly as the README prints it, from an empty directory with no `FCFS_*` set.

`fcfs serve` on the embedded default (it runs its own consumer there), and the README's library
example extracted from README.md and run as a script: against MariaDB + Redis + the broker, and
with a prerequisite missing (the message must name the fix).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fcfs.entrypoints.embedded import free_port
from fcfs.entrypoints.runtime import wait_ready

ROOT = Path(__file__).resolve().parents[2]
FCFS = Path(sys.executable).with_name("fcfs")  # the console script the README tells users to run


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any `FCFS_*` variable: what a new user has."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FCFS_")}
    return env | extra


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fresh"
    directory.mkdir()
    return directory


@pytest.fixture
def served(fresh_dir: Path) -> Iterator[str]:
    """`fcfs serve --workers 2 --port P` started in `fresh_dir` (its cwd), as the README shows it."""
    port = free_port()
    log = (fresh_dir.parent / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [str(FCFS), "serve", "--workers", "2", "--port", str(port)],
        cwd=fresh_dir,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(base_url, process, timeout=120)
        except (RuntimeError, TimeoutError) as error:
            raise AssertionError(f"{error}\n{(fresh_dir.parent / 'serve.log').read_text()[-3000:]}") from None
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def test_serve_in_an_empty_directory_without_settings_runs_the_whole_coupon_story(served: str, fresh_dir: Path) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        created = client.post("/api/v1/coupons", json={"name": "first contact", "totalQuantity": 2})
        assert created.status_code == 201, created.text
        coupon_id = created.json()["result"]["id"]
        stocked = client.post(f"/api/v1/coupons/{coupon_id}/stock", json={})
        assert stocked.status_code == 200, stocked.text
        issued = client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": 42})
        assert (issued.status_code, issued.json()["code"]) == (202, "202"), issued.text

        state = "none"
        for _ in range(300):  # the consumer `fcfs serve` started persists the accepted issue
            state = client.get(f"/api/v1/coupons/{coupon_id}/issued/42").json()["result"]["state"]
            if state == "issued":
                break
            time.sleep(0.1)
        coupon = client.get(f"/api/v1/coupons/{coupon_id}").json()["result"]

    assert state == "issued"
    assert coupon["issuedCount"] == 1
    assert (fresh_dir / ".fcfs" / "fcfs.db").exists()  # the data stays where the user ran it


def library_example() -> str:
    """The ```python block under the README's library heading, as printed."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### As a library") :]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "no python block under the library heading"
    return found.group(1)


def run_example(directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = directory / "example.py"
    script.write_text(library_example())
    return subprocess.run(  # noqa: S603
        [sys.executable, str(script)], cwd=directory, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.usefixtures("redis_client")  # deletes the example's keys afterwards
def test_the_readme_library_example_runs_as_printed(
    fresh_dir: Path,
    empty_database_url: str,
    redis_server_url: str,
    redis_prefix: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
) -> None:
    env = clean_env(
        FCFS_DATABASE_URL=empty_database_url,
        FCFS_REDIS_URL=redis_server_url,
        FCFS_REDIS_PREFIX=redis_prefix,
        FCFS_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        FCFS_TOPIC=topics[0],
        FCFS_DEAD_LETTER_TOPIC=topics[1],
    )

    ran = run_example(fresh_dir, env)

    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip() == "accepted"  # lua-async, the default: gate passed, event on the broker


def test_the_readme_library_example_without_a_broker_names_the_settings_to_set(
    fresh_dir: Path, redis_server_url: str
) -> None:
    ran = run_example(fresh_dir, clean_env(FCFS_REDIS_URL=redis_server_url))

    assert ran.returncode != 0
    last = ran.stderr.strip().splitlines()[-1]
    assert "ConfigurationError" in last
    assert "FCFS_KAFKA_BOOTSTRAP_SERVERS" in last
    assert "FCFS_STRATEGY=" in last
