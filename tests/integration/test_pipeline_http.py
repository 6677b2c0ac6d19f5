"""lua-async end to end: 11,000 HTTP requests → Redis gate → Kafka → consumer → MariaDB, stock 1,000."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fcfs import Settings
from tests.support.race import race


async def test_accepted_users_are_exactly_the_rows_after_the_drain(lab_settings: Settings, tmp_path: Path) -> None:
    chosen = dataclasses.replace(lab_settings, strategy="lua-async")
    result, audit, granted = await race(chosen, 2, tmp_path, 500, stock=1_000, users=10_000, repeats=1_000)

    assert not result.transport_errors, result.transport_errors
    assert set(result.by_code) <= {"202", "C002", "C003"}, result.by_code
    assert len(granted) == 1_000
    assert audit.rows == 1_000
    assert audit.duplicate_rows == 0
    assert audit.row_users == granted, (
        f"accepted without row: {sorted(granted - audit.row_users)[:10]}; "
        f"rows without acceptance: {sorted(audit.row_users - granted)[:10]}"
    )
    assert audit.gate_remaining == 0
    assert audit.gate_users == granted
