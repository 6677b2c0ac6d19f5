"""Recording one admin action in the audit trail, stamped with the clock's time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fcfs.domain.audit import NewAuditEntry, bounded_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fcfs.domain.audit import AdminAction, AuditEntry
    from fcfs.ports.audit import AuditLog
    from fcfs.ports.clock import Clock


@dataclass(frozen=True, slots=True)
class Operator:
    """Who acted and from where: the HTTP request's id and client address, or the command line's."""

    actor: str
    client_address: str
    request_id: str | None


class RecordAdminAction:
    """Appends the row; a failure propagates (the caller decides what an unrecorded action means)."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    async def execute(
        self,
        action: AdminAction,
        coupon_id: int | None,
        parameters: Mapping[str, object],
        outcome: str,
        operator: Operator,
    ) -> AuditEntry:
        entry = NewAuditEntry(
            action=action,
            coupon_id=coupon_id,
            parameters=dict(parameters),
            outcome=bounded_text(outcome),
            request_id=operator.request_id,
            client_address=bounded_text(operator.client_address),
            actor=bounded_text(operator.actor),
            at=self._clock.now(),
        )
        return await self._log.record(entry)
