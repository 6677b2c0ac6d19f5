"""What a decorator around a use case (metrics, bulkhead, sold-out shortcut) needs of the thing it wraps.

The decorators wrap by composition, so they are typed by these roles rather than by the
concrete use cases: a test hands any object with the right `execute`, and the container
can stack decorators in any order. Results that are use-case reports (not model values)
are type parameters, so this module imports only the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from fcfs.domain.issuance import IssueCommand, IssueOutcome

Report_co = TypeVar("Report_co", covariant=True)


class IssuesCoupons(Protocol):
    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        """Answer one issue attempt with the named (or configured) strategy."""
        ...


class LoadsStock(Protocol[Report_co]):
    async def execute(self, coupon_id: int, quantity: int | None = None) -> Report_co:
        """Put `quantity` units (default: what is left) in front of the coupon's issuance."""
        ...


class DeletesCoupons(Protocol):
    async def execute(self, coupon_id: int) -> None: ...


class ChangesCouponState(Protocol[Report_co]):
    async def execute(self, coupon_id: int) -> Report_co:
        """Pause, resume or close the coupon, on every instance, before returning."""
        ...


class TopsUpStock(Protocol[Report_co]):
    async def execute(self, coupon_id: int, *, add: int | None = None, total_quantity: int | None = None) -> Report_co:
        """Raise the coupon's total (by `add`, or to `total_quantity`) and its loaded stock with it."""
        ...


class Reconciles(Protocol[Report_co]):
    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> Report_co:
        """Bring the gate, the broker and the database back into agreement for one coupon (or only report)."""
        ...
