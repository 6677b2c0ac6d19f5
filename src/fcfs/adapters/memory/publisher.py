"""The broker's in-memory twin: a list of published events, with switchable failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.ports.publisher import DeadLetterPublisher, IssueEventPublisher, UnconfirmedEvents

if TYPE_CHECKING:
    from fcfs.domain.events import CouponIssued, IssueDeadLettered


class MemoryIssuePublisher(IssueEventPublisher):
    def __init__(self) -> None:
        self.published: list[CouponIssued] = []
        self.fail_with: type[PublishFailed] | type[PublishOutcomeUnknown] | None = None
        self.write_before_failing = False  # an unknown outcome that did reach the log

    async def publish(self, event: CouponIssued) -> None:
        if self.fail_with is not None:
            if self.write_before_failing:
                self.published.append(event)
            raise self.fail_with("broker unavailable (memory twin)")
        self.published.append(event)

    def drain(self) -> list[CouponIssued]:
        events, self.published = self.published, []
        return events


class MemoryDeadLetterPublisher(DeadLetterPublisher):
    def __init__(self) -> None:
        self.letters: list[IssueDeadLettered] = []
        self.failing = False

    async def dead_letter(self, letter: IssueDeadLettered) -> None:
        if self.failing:
            raise PublishFailed("dead-letter topic unavailable (memory twin)")
        self.letters.append(letter)


class MemoryUnconfirmedEvents(UnconfirmedEvents):
    def __init__(self) -> None:
        self.events: dict[str, CouponIssued] = {}

    async def record(self, event: CouponIssued) -> None:
        self.events[event.event_id] = event

    async def list(self, coupon_id: int) -> list[CouponIssued]:
        return [event for event in self.events.values() if event.coupon_id == coupon_id]

    async def settle(self, event: CouponIssued) -> None:
        self.events.pop(event.event_id, None)
