"""`fcfs --version`, `fcfs strategies` for scripts, and `fcfs reconcile`'s rounds, exit rule and output.

No service is started: the reconcile rounds run against a scripted use case, on a fake clock.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from typer.testing import CliRunner, Result

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.plugins import discover
from fcfs.bootstrap.settings import Settings
from fcfs.domain.errors import CouponNotFound, TemporaryFailure
from fcfs.domain.use_cases import ReconcileReport
from fcfs.entrypoints.cli import app
from fcfs.entrypoints.commands.reconcile import describe
from fcfs.entrypoints.commands.reconcile_rounds import CouponReconciliation, reconcile_rounds, round_finished
from fcfs.entrypoints.http.app import create_app


@pytest.fixture(autouse=True)
def no_fcfs_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in [name for name in os.environ if name.startswith("FCFS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


CONSISTENT = ReconcileReport(
    coupon_id=7, total_quantity=10, consumer_lag=0, rows=4, gate_stock=6, gate_users=4, held_without_row=(),
    rows_without_hold=(), unconfirmed=(), republished=(), settled=(), rebuilt_stock=None, deferred=(), failed=(),
    dry_run=False,
)  # fmt: skip


def report(**changes: Any) -> ReconcileReport:
    """A consistent coupon of 10 with 4 rows, then `changes`."""
    return dataclasses.replace(CONSISTENT, **changes)


LAGGING = report(consumer_lag=3, gate_stock=None, gate_users=0, deferred=("gate stock not rebuilt: consumer lag is 3",))
REBUILT = report(gate_stock=None, gate_users=0, rows_without_hold=(1, 2, 3, 4), rebuilt_stock=6)
REPUBLISHED = report(gate_stock=5, gate_users=5, held_without_row=(9,), republished=(9,), deferred=("pending",))


class ScriptedReconcile:
    """Answers each round with the next scripted report (or raises it), recording the calls."""

    def __init__(self, *answers: ReconcileReport | Exception) -> None:
        self.answers: Iterator[ReconcileReport | Exception] = iter(answers)
        self.calls: list[tuple[int, bool]] = []

    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
        self.calls.append((coupon_id, dry_run))
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def rounds_of(use_case: ScriptedReconcile, *, wait: float, dry_run: bool = False) -> CouponReconciliation:
    clock = FakeClock()
    return await reconcile_rounds(use_case, 7, dry_run=dry_run, wait=wait, interval=1.0, clock=clock, sleep=clock.sleep)


def test_version_is_the_installed_package_metadata() -> None:
    outcome = invoke("--version")

    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.strip() == f"fcfs {version('fcfs')}"


async def test_the_openapi_document_carries_the_same_version() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        document = (await client.get("/schema/openapi.json")).json()

    assert document["info"]["version"] == version("fcfs")


def test_strategies_piped_prints_every_name_in_full_one_per_line() -> None:
    outcome = invoke("strategies")  # CliRunner's stdout is not a terminal, as `fcfs strategies | cat`

    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert lines[0].split("\t") == ["name", "safe across processes", "needs", "description"]
    assert [line.split("\t")[0] for line in lines[1:]] == sorted(discover())
    assert "synchronized-commit\tno\tsql\t" in outcome.stdout
    assert "…" not in outcome.stdout


def test_strategies_json_lists_each_with_what_it_needs() -> None:
    outcome = invoke("strategies", "--json")

    assert outcome.exit_code == 0, outcome.output
    cards = {card["name"]: card for card in json.loads(outcome.stdout)}
    assert set(cards) == set(discover())
    assert cards["lua-async"]["needs"] == ["broker", "redis"]
    assert cards["lua-async"]["cross_process_safe"] is True
    assert cards["no-lock"]["cross_process_safe"] is False


@pytest.mark.parametrize("args", [[], ["--coupon", "1", "--all"]], ids=["neither", "both"])
def test_reconcile_refuses_without_exactly_one_of_coupon_and_all(args: list[str]) -> None:
    outcome = invoke("reconcile", *args)

    assert outcome.exit_code == 2, outcome.output
    assert "--coupon N, or --all" in outcome.stderr


def test_a_round_that_rebuilt_the_gate_finished_one_that_republished_did_not() -> None:
    assert round_finished(report())
    assert round_finished(REBUILT)
    assert not round_finished(LAGGING)
    assert not round_finished(REPUBLISHED)
    assert not round_finished(report(rows_without_hold=(1,), dry_run=True))


async def test_rounds_wait_for_the_lag_then_stop_at_the_first_finished_round() -> None:
    use_case = ScriptedReconcile(LAGGING, LAGGING, REBUILT, report())

    outcome = await rounds_of(use_case, wait=10)

    assert outcome.finished
    assert outcome.rounds == (LAGGING, LAGGING, REBUILT)
    assert use_case.calls == [(7, False)] * 3


async def test_rounds_give_up_unfinished_when_the_wait_runs_out() -> None:
    use_case = ScriptedReconcile(*[LAGGING] * 20)

    outcome = await rounds_of(use_case, wait=3)

    assert not outcome.finished
    assert len(outcome.rounds) == 4  # at 0, 1, 2 and 3 seconds
    assert any("not finished: gate stock not rebuilt: consumer lag is 3" in line for line in describe(outcome))


async def test_without_a_wait_one_round_runs() -> None:
    outcome = await rounds_of(ScriptedReconcile(REPUBLISHED, report()), wait=0)

    assert not outcome.finished
    assert outcome.rounds == (REPUBLISHED,)


async def test_a_temporary_failure_is_retried_within_the_wait_and_an_unknown_coupon_is_not() -> None:
    retried = await rounds_of(ScriptedReconcile(TemporaryFailure("broker away"), report()), wait=5)
    unknown = await rounds_of(ScriptedReconcile(CouponNotFound("coupon 7 not found"), report()), wait=5)

    assert retried.finished and len(retried.rounds) == 1
    assert not unknown.finished
    assert unknown.error == "coupon 7 not found"
    assert unknown.rounds == ()


def test_the_description_says_what_was_found_and_what_was_done() -> None:
    lines = describe(CouponReconciliation(7, (LAGGING, REBUILT)))

    assert lines[0] == "coupon 7:"
    assert "0 users and stock not loaded in the gate, 4 rows (total 10), consumer lag 3" in lines[1]
    assert "  round 2: rebuilt the gate from the rows: stock 6, 4 users" in lines
    assert lines[-1] == "  done after 2 round(s): the gate and the database agree"


def test_a_dry_run_says_what_it_would_do_and_is_not_finished() -> None:
    dry = report(gate_users=5, gate_stock=5, held_without_row=(9,), republished=(9,), dry_run=True)
    outcome = CouponReconciliation(7, (dry,))

    assert not outcome.finished
    assert "  round 1: would republish 1 users' events: 9" in describe(outcome)
    assert "  not finished: dry run: nothing was changed" in describe(outcome)
