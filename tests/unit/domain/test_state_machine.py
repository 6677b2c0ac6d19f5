"""The pipeline state machine (`tests/support/issuance_machine.py`) on the in-memory twins, 500 runs of 40 steps.

After every step: rows ≤ total, one row per user, the counter equals the rows, no row without an
acceptance or a reconciliation, conservation while the gate is loaded; at the end, drained and
reconciled, every accepted user has a row (but the documented double-fault exemption).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.support.issuance_machine import IssuanceMachine

IssuanceMachine.TestCase.settings = settings(
    max_examples=500, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestIssuanceOnMemoryTwins = IssuanceMachine.TestCase
