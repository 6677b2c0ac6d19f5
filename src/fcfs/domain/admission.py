"""Which strategies may share a coupon: those that keep the coupon's truth in the same place.

A Redis-gated strategy (`lua`, `lua-async`) decides from the gate's stock and user set; a
database-coordinated one decides from the rows and `issued_quantity`; `atomic` from a
counter in its own process. Each is blind to admissions the others made, so mixing them
on one coupon lets the gate sell a unit the database already gave away (a user answered
202 whose event the cap then refuses) or shows a stale remaining stock. The first issue
attempt therefore records its family on the coupon and a strategy of another family is
refused (C010). A strategy not named here shares a coupon with nobody but itself, unless
it declares a family (`admission = "redis-gate"` or `"database"` on its class).
"""

from __future__ import annotations

GATE = "redis-gate"
DATABASE = "database"

_FAMILIES = {
    "lua": GATE,
    "lua-async": GATE,
    "no-lock": DATABASE,
    "synchronized": DATABASE,
    "synchronized-commit": DATABASE,
    "reentrant-lock": DATABASE,
    "semaphore": DATABASE,
    "atomic-query": DATABASE,
    "pessimistic-lock": DATABASE,
    "distributed-lock": DATABASE,
    "spin-lock": DATABASE,
    "atomic": "only:atomic",  # its counter, seeded once per process, never sees other strategies' rows
}


def admission_family(strategy_name: str, declared: str | None = None) -> str:
    """The family a strategy admits in; `atomic` (process-local counter) and undeclared plug-ins stand alone."""
    return _FAMILIES.get(strategy_name) or declared or f"only:{strategy_name}"


def trusts_gate_stock(family: str | None) -> bool:
    """Whether the gate's stock is the coupon's remaining stock: not once the database decides."""
    return family is None or family == GATE
