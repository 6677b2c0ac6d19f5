"""The lab report: every strategy in the table and the charts, skipped ones with their reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcfs.entrypoints.report import markdown_table, row_of, write_report


def result(strategy: str, workers: int, issued: int) -> dict[str, object]:
    return {
        "strategy": strategy,
        "workers": workers,
        "issued": issued,
        "overIssued": max(issued - 100, 0),
        "duplicates": 0,
        "soldOut": 900,
        "alreadyIssued": 10,
        "errors": 0,
        "requestsPerSecond": 1234.5,
        "latencyMs": {"p50": 1.0, "p95": 5.0, "p99": 9.0},
    }


def test_report_lists_every_strategy_and_writes_readable_charts(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib import image

    results = [result("lua", 1, 100), result("no-lock", 2, 140), {"strategy": "pessimistic-lock", "workers": 1,
               "skipped": "needs row-locks"}]  # fmt: skip
    written = write_report(results, tmp_path, stock=100, requests=1010)

    names = {path.name for path in written}
    assert {"results.json", "report.md", "throughput.png", "p95.png", "over_issuance.png"} <= names
    assert json.loads((tmp_path / "results.json").read_text()) == results
    report = (tmp_path / "report.md").read_text()
    for strategy in ("lua", "no-lock", "pessimistic-lock"):
        assert f"| {strategy} |" in report
    assert "skipped: needs row-locks" in report
    for chart in ("throughput.png", "p95.png", "over_issuance.png"):
        pixels = image.imread(tmp_path / chart)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert matplotlib is not None


def test_table_row_shows_over_issuance() -> None:
    table = markdown_table([row_of(result("no-lock", 2, 140))])
    assert "| no-lock | 2 | 140 | 40 | 0 | 910 | 0 |" in table
