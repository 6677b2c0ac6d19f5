"""The issue use case with every answer counted for the live view (docs/design.md), per coupon and second.

Outermost, beside the metrics decorator: it sees every answer the use case gives (the
sold-out shortcut's and the bulkhead's too). Refusals decided before the use case (bad
input, tokens, rate limits) are not issue attempts and are not counted. Counting is a
dictionary update; the tally writes to shared storage once per event-loop turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.errors import FcfsError
from fcfs.ports.use_cases import IssuesCoupons

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome
    from fcfs.ports.live import AnswerTally


class TalliedIssueCoupon(IssuesCoupons):
    def __init__(self, inner: IssuesCoupons, tally: AnswerTally) -> None:
        self._inner = inner
        self._tally = tally

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        try:
            outcome = await self._inner.execute(command, strategy)
        except FcfsError as error:
            self._tally.count(command.coupon_id, error.code.code)
            raise
        self._tally.count(command.coupon_id, outcome.status.code.code)
        return outcome
