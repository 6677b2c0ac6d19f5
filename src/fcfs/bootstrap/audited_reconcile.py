"""Every reconciliation run is a row of the audit trail, whichever command or script started it.

A decorator on the use case rather than a call in the CLI: `open_reconcile` hands out this
wrapper, so `fcfs reconcile` (one coupon or `--all`, dry run or not) records each coupon it
touched without the command knowing. The operator is the command line's: the OS user as the
actor, `local:<hostname>` as the address, one `cli-…` request id per process (so the rows of
one `--all` run share it). As over HTTP, an audit write that fails never changes what the
reconciliation did or reports: the entry is logged at error level instead.
"""

from __future__ import annotations

import getpass
import secrets
import socket
from typing import TYPE_CHECKING

import structlog

from fcfs.domain.audit import AdminAction
from fcfs.domain.errors import Code, FcfsError
from fcfs.domain.use_cases import Operator, ReconcileReport, RecordAdminAction

if TYPE_CHECKING:
    from fcfs.ports.use_cases import Reconciles

log = structlog.get_logger("fcfs.audit")
_CLI_REQUEST_ID = f"cli-{secrets.token_hex(8)}"


def command_line_operator() -> Operator:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's numeric uid)
        user = "unknown"
    return Operator(actor=f"cli:{user}", client_address=f"local:{socket.gethostname()}", request_id=_CLI_REQUEST_ID)


class AuditedReconcile:
    def __init__(
        self, inner: Reconciles[ReconcileReport], record: RecordAdminAction, operator: Operator | None = None
    ) -> None:
        self._inner = inner
        self._record = record
        self._operator = operator or command_line_operator()

    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
        parameters: dict[str, object] = {"dryRun": dry_run}
        try:
            report = await self._inner.execute(coupon_id, dry_run=dry_run)
        except FcfsError as error:
            await self._recorded(coupon_id, parameters, error.code.code)
            raise
        except Exception:
            await self._recorded(coupon_id, parameters, Code.INTERNAL.code)
            raise
        parameters |= {
            "republished": len(report.republished),
            "settled": len(report.settled),
            "rebuiltStock": report.rebuilt_stock,
            "deferred": list(report.deferred),
            "failed": len(report.failed),
        }
        await self._recorded(coupon_id, parameters, Code.OK.code)
        return report

    async def _recorded(self, coupon_id: int, parameters: dict[str, object], outcome: str) -> None:
        try:
            await self._record.execute(AdminAction.RECONCILE, coupon_id, parameters, outcome, self._operator)
        except Exception as error:  # any failure: the run's result stands, the entry goes to the log
            log.error(
                "audit_write_failed",
                action=AdminAction.RECONCILE.value,
                coupon_id=coupon_id,
                parameters=parameters,
                outcome=outcome,
                actor=self._operator.actor,
                client_address=self._operator.client_address,
                request_id=self._operator.request_id,
                error=type(error).__name__,
            )
