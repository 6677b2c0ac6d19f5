"""Reconciliation (docs/design.md §6.7): observe, plan (`reconcile_plan`), then carry the plan out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fcfs.domain.coupon import ensure_id, require
from fcfs.domain.errors import PublishFailed, PublishOutcomeUnknown
from fcfs.domain.events import CouponIssued
from fcfs.domain.use_cases.reconcile_plan import ReconcileObservation, plan_reconcile, settled
from fcfs.domain.use_cases.reconcile_report import ReconcileReport

if TYPE_CHECKING:
    from collections.abc import Callable

    from fcfs.domain.use_cases.reconcile_plan import ReconcilePlan
    from fcfs.ports.clock import Clock
    from fcfs.ports.gate import GateStock
    from fcfs.ports.lag import ConsumerLag
    from fcfs.ports.publisher import IssueEventPublisher, UnconfirmedEvents
    from fcfs.ports.repositories import CouponRepository, IssuedCouponRepository


class Reconcile:
    """Brings the gate, the broker and the database back into agreement for one coupon.

    Republishing is safe because the consumer persists idempotently; which users are
    republished, settled or held back, and whether the gate's stock is rebuilt, is decided
    by `plan_reconcile`. A dry run observes and plans, and changes nothing.
    """

    def __init__(
        self,
        coupons: CouponRepository,
        issued: IssuedCouponRepository,
        gate: GateStock,
        publisher: IssueEventPublisher,
        unconfirmed: UnconfirmedEvents,
        lag: ConsumerLag,
        clock: Clock,
        *,
        grace_seconds: float = 30.0,
        new_event_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._coupons, self._issued, self._gate, self._lag = coupons, issued, gate, lag
        self._publisher, self._unconfirmed = publisher, unconfirmed
        self._clock, self._grace, self._new_event_id = clock, timedelta(seconds=grace_seconds), new_event_id

    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
        ensure_id(coupon_id, "couponId")
        seen = await self._observe(coupon_id)
        now = self._clock.now()
        plan = plan_reconcile(seen, now, self._grace)
        republish = [self._event_for(plan, coupon_id, user, now) for user in plan.republish]
        settle, failed = plan.settle, []
        if not dry_run:
            failed = await self._republish(republish)
            if republish:
                settle = settled(seen.unconfirmed, await self._issued.user_ids(coupon_id))
            for event in settle:
                await self._unconfirmed.settle(event)
            if plan.rebuild_stock is not None:
                state = require(await self._coupons.get(coupon_id), coupon_id).state_mark  # a lost gate lost it too
                await self._gate.load_stock(coupon_id, plan.rebuild_stock, seen.rows, state, seen.total_quantity)
        return _report(seen, plan, settle, failed, dry_run=dry_run)

    def _event_for(self, plan: ReconcilePlan, coupon_id: int, user_id: int, now: datetime) -> CouponIssued:
        recorded = plan.recorded.get(user_id)
        return recorded if recorded is not None else CouponIssued(self._new_event_id(), coupon_id, user_id, now)

    async def _observe(self, coupon_id: int) -> ReconcileObservation:
        coupon = require(await self._coupons.get(coupon_id), coupon_id)
        lag = await self._lag.total_lag()  # first: anything committed after this is in the rows read below
        return ReconcileObservation(
            coupon_id=coupon_id,
            total_quantity=coupon.total_quantity,
            lag=lag,
            gate_stock=await self._gate.remaining(coupon_id),
            gate_users=frozenset(await self._gate.users(coupon_id)),
            rows=frozenset(await self._issued.user_ids(coupon_id)),
            unconfirmed=tuple(await self._unconfirmed.list(coupon_id)),
        )

    async def _republish(self, events: list[CouponIssued]) -> list[str]:
        """Publish each; an unknown outcome is recorded for the next run, a certain failure only reported."""
        failed: list[str] = []
        for event in events:
            try:
                await self._publisher.publish(event)
            except PublishOutcomeUnknown:
                await self._unconfirmed.record(event)
                failed.append(f"user {event.user_id}: publish outcome unknown, recorded")
            except PublishFailed as error:
                failed.append(f"user {event.user_id}: {error.detail}")
        return failed


def _report(
    seen: ReconcileObservation,
    plan: ReconcilePlan,
    settle: tuple[CouponIssued, ...],
    failed: list[str],
    *,
    dry_run: bool,
) -> ReconcileReport:
    return ReconcileReport(
        coupon_id=seen.coupon_id,
        total_quantity=seen.total_quantity,
        consumer_lag=seen.lag,
        rows=len(seen.rows),
        gate_stock=seen.gate_stock,
        gate_users=len(seen.gate_users),
        held_without_row=tuple(sorted(seen.gate_users - seen.rows)),
        rows_without_hold=tuple(sorted(seen.rows - seen.gate_users)),
        unconfirmed=tuple(event.event_id for event in seen.unconfirmed),
        republished=plan.republish,
        settled=tuple(event.event_id for event in settle),
        rebuilt_stock=plan.rebuild_stock,
        deferred=plan.deferred,
        failed=tuple(failed),
        dry_run=dry_run,
    )
