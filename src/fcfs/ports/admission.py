"""Where a coupon records which strategy family admitted first (see `fcfs.domain.admission`)."""

from __future__ import annotations

from typing import Protocol


class AdmissionLedger(Protocol):
    async def claim(self, coupon_id: int, family: str) -> str | None:
        """Record `family` unless one is recorded already, in one atomic step; the family in force.

        None when the coupon does not exist. Two processes claiming different families at
        once both get the same answer, so exactly one of them may admit.
        """
        ...

    async def family(self, coupon_id: int) -> str | None:
        """The recorded family, None when none is (or the coupon does not exist)."""
        ...
