"""The CLI's edges: refusals before anything starts (exit 2), runs that did not do what was asked (exit 1),
one JSON shape, progress without a terminal.

Nothing here may start a service: `backing_services` and the consumer are replaced by stand-ins that
fail the test if reached where the CLI should have refused, or that hand back settings without I/O.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints import runtime
from fcfs.entrypoints.cli import app
from fcfs.entrypoints.progress import PlainProgress


@pytest.fixture(autouse=True)
def no_fcfs_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in [name for name in os.environ if name.startswith("FCFS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a service was started where the CLI should have refused")

    monkeypatch.setattr(runtime, "backing_services", refuse)
    monkeypatch.setattr("fcfs.entrypoints.consumer.main", refuse)


@pytest.fixture
def backends_without_io(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The embedded default as `demo` sees it after start-up (SQLite, nothing else), without starting it."""

    @contextlib.contextmanager
    def backing(settings: Settings, *, embedded: bool = True) -> Iterator[Settings]:
        yield Settings(data_dir=str(tmp_path), strategy=settings.strategy)

    monkeypatch.setattr(runtime, "backing_services", backing)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def assert_refused(outcome: Result, said: str) -> None:
    """Exit 2 with `said` on stderr: the command refused before it started anything."""
    assert outcome.exit_code == 2, outcome.output
    assert said in outcome.stderr


@pytest.mark.usefixtures("nothing_may_start")
def test_serve_refuses_an_unknown_strategy_before_starting_anything(tmp_path: Path) -> None:
    outcome = invoke("serve", "--port", "1", env={"FCFS_STRATEGY": "bogus"})

    assert_refused(outcome, "FCFS_STRATEGY='bogus'")
    assert "Traceback" not in outcome.output
    assert not (tmp_path / ".fcfs").exists()


@pytest.mark.usefixtures("nothing_may_start")
def test_serve_refuses_a_strategy_whose_backend_is_not_configured() -> None:
    outcome = invoke("serve", "--no-embedded", env={"FCFS_STRATEGY": "lua"})

    assert_refused(outcome, "FCFS_REDIS_URL")


@pytest.mark.usefixtures("nothing_may_start")
def test_serve_refuses_a_malformed_setting_without_a_traceback() -> None:
    outcome = invoke("serve", env={"FCFS_DB_POOL_SIZE": "lots"})

    assert_refused(outcome, "FCFS_DB_POOL_SIZE='lots' is not a valid int")
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)


@pytest.mark.usefixtures("nothing_may_start")
def test_consume_without_a_broker_says_which_variable_to_set() -> None:
    outcome = invoke("consume")

    assert_refused(outcome, "FCFS_KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.usefixtures("nothing_may_start")
def test_consume_check_without_a_consumer_exits_1() -> None:
    outcome = invoke("consume", "--check")

    assert outcome.exit_code == 1, outcome.output
    assert "not seen" in outcome.stdout


@pytest.mark.usefixtures("nothing_may_start")
def test_demo_refuses_the_configured_strategy_when_it_cannot_run() -> None:
    outcome = invoke("demo", env={"FCFS_STRATEGY": "bogus"})

    assert_refused(outcome, "FCFS_STRATEGY='bogus'")


@pytest.mark.usefixtures("nothing_may_start")
@pytest.mark.parametrize("workers", ["0", "abc", "1,0", ","])
def test_demo_refuses_a_worker_count_that_is_not_one_or_more(workers: str) -> None:
    outcome = invoke("demo", "--workers", workers)

    assert_refused(outcome, "worker count")
    assert "Traceback" not in outcome.output


@pytest.mark.usefixtures("backends_without_io")
def test_demo_of_a_strategy_the_backends_cannot_serve_says_skipped_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a skipped strategy ran")

    monkeypatch.setattr("fcfs.entrypoints.demo.run_scenario", never)

    plain = invoke("demo", "--strategy", "pessimistic-lock")
    as_json = invoke("demo", "--strategy", "pessimistic-lock", "--json")

    assert plain.exit_code == 1, plain.output
    assert "pessimistic-lock x 1 worker(s) skipped: needs row-locks" in plain.stderr
    assert "|" not in plain.stdout  # no half-empty table row
    assert as_json.exit_code == 1, as_json.output
    assert json.loads(as_json.stdout) == [
        {"strategy": "pessimistic-lock", "workers": 1, "skipped": json.loads(as_json.stdout)[0]["skipped"]}
    ]


def fake_run(figures: dict[str, object]) -> Callable[..., dict[str, object]]:
    def run_scenario(
        settings: Settings, scenario: object, log_dir: Path, on_answer: Callable[[int], None] | None = None
    ) -> dict[str, object]:
        assert on_answer is not None
        for _ in range(11):
            on_answer(1)
        return {"strategy": settings.strategy, **figures}

    return run_scenario


@pytest.mark.usefixtures("backends_without_io")
def test_demo_json_is_a_list_for_one_run_as_for_several(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fcfs.entrypoints.demo.run_scenario", fake_run({"workers": 1, "issued": 1}))

    outcome = invoke("demo", "--strategy", "atomic-query", "--users", "10", "--repeats", "1", "--json")

    assert outcome.exit_code == 0, outcome.output
    runs = json.loads(outcome.stdout)
    assert isinstance(runs, list)
    assert [run["issued"] for run in runs] == [1]


@pytest.mark.usefixtures("backends_without_io")
def test_demo_without_a_terminal_prints_plain_progress_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fcfs.entrypoints.demo.run_scenario", fake_run({"workers": 1, "issued": 1}))

    outcome = invoke("demo", "--strategy", "atomic-query", "--users", "10", "--repeats", "1", "--json")

    assert outcome.exit_code == 0, outcome.output
    assert "atomic-query x 1 worker(s): started, 11 requests" in outcome.stderr
    assert "atomic-query x 1 worker(s): 11/11 (100%)" in outcome.stderr


def test_plain_progress_writes_one_line_per_tenth() -> None:
    stream = io.StringIO()
    advance = PlainProgress(stream).start("race", 100)

    for _ in range(100):
        advance(1)

    lines = stream.getvalue().splitlines()
    assert lines[0] == "race: started, 100 requests"
    assert lines[1:] == [f"race: {n}/100 ({n}%)" for n in range(10, 101, 10)]


def test_loadtest_refuses_a_scheme_it_does_not_speak() -> None:
    outcome = invoke("loadtest", "ftp://127.0.0.1:1", "--coupon", "1")

    assert_refused(outcome, "http:// or https://")


@pytest.mark.usefixtures("nothing_may_start")
def test_reconcile_as_the_readme_shows_it_names_what_it_needs() -> None:
    outcome = invoke("reconcile", "--coupon", "1", "--dry-run")

    assert_refused(outcome, "FCFS_KAFKA_BOOTSTRAP_SERVERS")
    assert "FCFS_REDIS_URL" in outcome.stderr
