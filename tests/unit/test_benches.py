"""Every benchmark the README shows is a module that starts: a figure nobody can reproduce is not a figure.

The benches are not tests (they print figures, they assert no time); this only proves each
command line the README prints names a module that parses its options.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(set(re.findall(r"python -m (bench\.\w+)", (ROOT / "README.md").read_text())))


def test_the_readme_shows_the_benches() -> None:
    assert {"bench.ceiling", "bench.consumer_drain", "bench.sustained", "bench.idle_streams"} <= set(BENCHES)


@pytest.mark.parametrize("module", BENCHES)
def test_every_bench_the_readme_shows_starts(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
