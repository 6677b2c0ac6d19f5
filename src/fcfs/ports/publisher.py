"""Where admitted issuances go when a consumer persists them (Kafka, or its in-memory twin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fcfs.domain.events import CouponIssued, IssueDeadLettered


class IssueEventPublisher(Protocol):
    async def publish(self, event: CouponIssued) -> None:
        """Write the event with acks=all.

        Raises `PublishFailed` when it was certainly not written (compensate) and
        `PublishOutcomeUnknown` when the broker did not answer in time (do not compensate).
        """
        ...


class DeadLetterPublisher(Protocol):
    async def dead_letter(self, letter: IssueDeadLettered) -> None:
        """Write to the dead-letter topic; raises `PublishFailed` if it could not (then do not commit)."""
        ...


class UnconfirmedEvents(Protocol):
    """Events whose publish outcome is unknown, kept until reconciliation settles them."""

    async def record(self, event: CouponIssued) -> None: ...

    async def list(self, coupon_id: int) -> list[CouponIssued]: ...

    async def settle(self, event: CouponIssued) -> None: ...
