"""Which strategies may share a coupon: those that keep the coupon's truth in the same place.

A Redis-gated strategy (`lua`, `lua-async`) decides from the gate's stock and user set; a
database-coordinated one decides from the rows and `issued_quantity`; `atomic` from a
counter in its own process. Each is blind to admissions the others made, so mixing them
on one coupon lets the gate sell a unit the database already gave away (a user answered
202 whose event the cap then refuses) or shows a stale remaining stock. The first issue
attempt therefore records its family on the coupon and a strategy of another family is
refused (C010). Each strategy names its family on its card
(`class LuaStrategy(Strategy, name="lua", ..., admission=GATE)`), or inherits its base's
(`CheckedInsertStrategy` is `DATABASE`). One that names none (a plug-in without an
`admission` attribute) or `ALONE` (`atomic`, whose counter is seeded once per process and
never sees other strategies' rows) shares a coupon with nobody but itself.
"""

from __future__ import annotations

GATE = "redis-gate"
DATABASE = "database"
ALONE = "alone"  # not a family: the strategy's own, `only:<name>`


def admission_family(strategy_name: str, declared: str | None) -> str:
    """The family a strategy declared on its card, or one of its own when it declared none."""
    if declared is None or declared == ALONE:
        return f"only:{strategy_name}"
    return declared


def trusts_gate_stock(family: str | None) -> bool:
    """Whether the gate's stock is the coupon's remaining stock: not once the database decides."""
    return family is None or family == GATE
