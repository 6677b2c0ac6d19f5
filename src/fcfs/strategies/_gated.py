"""The Redis gate in front of durability, shared by `lua` and `lua-async`.

The gate admits atomically (stock, user set); what follows must make the admission
durable or give it back. Giving back is only right when the admission certainly did
not become durable: otherwise the unit would be issued twice (invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import uuid4

from fcfs.domain.errors import IssuancePaused
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import GateVerdict, IssueOutcome

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueStatus
    from fcfs.ports.clock import Clock
    from fcfs.ports.gate import IssuanceGate


@dataclass(frozen=True, slots=True)
class GateFront:
    gate: IssuanceGate
    clock: Clock

    async def admit(self, command: IssueCommand) -> CouponIssued | IssueOutcome:
        """The event to make durable when the gate admits; otherwise its verdict as an outcome.

        A gate whose stock was never loaded answers `NOT_LOADED`, an outcome (C006), not an error;
        a paused coupon raises `IssuancePaused` (C009) and a closed one is `NOT_OPEN` (C005),
        both decided by the gate in the same atomic step as the admission.
        """
        verdict = await self.gate.try_issue(command.coupon_id, command.user_id)
        if verdict is GateVerdict.PAUSED:
            raise IssuancePaused(f"issuance of coupon {command.coupon_id} is paused")
        if verdict is not GateVerdict.ISSUED:
            return IssueOutcome(verdict.as_status(), command.coupon_id, command.user_id)
        return CouponIssued(str(uuid4()), command.coupon_id, command.user_id, self.clock.now())

    async def give_back(self, event: CouponIssued) -> None:
        """Undo exactly this admission: the user leaves the set and the unit returns to stock."""
        await self.gate.compensate(event.coupon_id, event.user_id)


def answer(event: CouponIssued, status: IssueStatus) -> IssueOutcome:
    return IssueOutcome(status, event.coupon_id, event.user_id, event_id=event.event_id)
