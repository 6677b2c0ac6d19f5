"""What `fcfs reconcile` prints and returns for one coupon."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What `fcfs reconcile` found for one coupon and what it did (or, on a dry run, would do).

    `held_without_row`: users the gate admitted with no row yet (in flight, or lost);
    `rows_without_hold`: rows whose user the gate does not hold (the gate lost state);
    `unconfirmed`: events whose publish outcome was unknown. `republished` are the users
    whose event went (would go) to the broker again, `settled` the unconfirmed events closed
    because their row exists, `rebuilt_stock` the stock written to the gate from the
    database (None: not rebuilt), `deferred` why a repair was held back, `failed` the
    republishes the broker refused (retried on the next run).
    """

    coupon_id: int
    total_quantity: int
    consumer_lag: int
    rows: int
    gate_stock: int | None
    gate_users: int
    held_without_row: tuple[int, ...]
    rows_without_hold: tuple[int, ...]
    unconfirmed: tuple[str, ...]
    republished: tuple[int, ...]
    settled: tuple[str, ...]
    rebuilt_stock: int | None
    deferred: tuple[str, ...]
    failed: tuple[str, ...]
    dry_run: bool

    @property
    def consistent(self) -> bool:
        """Gate and database agree, nothing is unconfirmed and the gate conserves the total (invariant 5)."""
        return (
            not self.held_without_row
            and not self.rows_without_hold
            and not self.unconfirmed
            and self.gate_stock is not None
            and self.gate_stock + self.gate_users == self.total_quantity
        )
