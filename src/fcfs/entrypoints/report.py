"""The lab's report: a table, `results.json`, `report.md` and PNG charts (matplotlib, optional)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = [
    ("strategy", "strategy"),
    ("workers", "workers"),
    ("issued", "issued"),
    ("overIssued", "over-issued"),
    ("duplicates", "duplicate rows"),
    ("rejected", "rejected"),
    ("errors", "errors"),
    ("requestsPerSecond", "req/s"),
    ("p50", "p50 ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
]


def row_of(result: dict[str, Any]) -> dict[str, Any]:
    if "skipped" in result:
        return {"strategy": result["strategy"], "workers": result["workers"], "skipped": result["skipped"]}
    latency = result["latencyMs"]
    return {
        "strategy": result["strategy"],
        "workers": result["workers"],
        "issued": result["issued"],
        "overIssued": result["overIssued"],
        "duplicates": result["duplicates"],
        "rejected": result["soldOut"] + result["alreadyIssued"],
        "errors": result["errors"],
        "requestsPerSecond": result["requestsPerSecond"],
        "p50": latency["p50"],
        "p95": latency["p95"],
        "p99": latency["p99"],
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['strategy']} | {row['workers']} | skipped: {row['skipped']} |")
            continue
        lines.append("| " + " | ".join(str(row[key]) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def write_report(results: list[dict[str, Any]], out: Path, stock: int, requests: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows = [row_of(result) for result in results]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    charts = _charts(rows, out)
    body = [
        "# fcfs strategy lab",
        "",
        f"{requests} requests against stock {stock}; figures read back from the database.",
        "",
        markdown_table(rows),
        "",
        *[f"![{path.stem}]({path.name})" for path in charts],
    ]
    (out / "report.md").write_text("\n".join(body) + "\n")
    return [out / "results.json", out / "report.md", *charts]


def _charts(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    measured = [row for row in rows if "skipped" not in row]
    if not measured:
        return []
    labels = [f"{row['strategy']}\n×{row['workers']}" for row in measured]
    paths = []
    for name, key, title in (
        ("throughput", "requestsPerSecond", "Throughput (req/s)"),
        ("p95", "p95", "p95 latency (ms)"),
        ("over_issuance", "overIssued", "Over-issued coupons (rows beyond stock)"),
    ):
        figure, axes = plt.subplots(figsize=(min(16, max(8, len(labels) * 0.6)), 5))
        colors = ["#c0392b" if row["overIssued"] else "#2e86c1" for row in measured]
        axes.bar(range(len(labels)), [row[key] for row in measured], color=colors)
        axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
        axes.set_title(title)
        figure.tight_layout()
        path = out / f"{name}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths
