"""Mixing strategies on one coupon (issue #12 item 7): only one family of strategies may issue a coupon.

Over the HTTP app on the in-memory twins; the same story on MariaDB + Redis + broker is in
tests/integration/test_strategy_mixing.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fcfs.adapters.memory.admission import MemoryAdmissionLedger
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.memory.store import MemoryCouponRepository, MemoryDatabase, MemoryIssuedCouponRepository
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.plugins import discover
from fcfs.bootstrap.settings import Settings
from fcfs.domain.admission import DATABASE, GATE, admission_family
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.errors import StrategyConflict
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import UserIssueState
from fcfs.domain.use_cases import AdmissionGuard, ReadUserIssue
from fcfs.entrypoints.http.app import create_app
from fcfs.ports.strategy import Capability
from fcfs.strategies._checked_insert import CheckedInsertStrategy
from fcfs.strategies.plugin import Strategy
from tests.support.http_client import assert_envelope, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = Settings(strategy="lua-async")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as test_client:
        yield test_client


async def issue(client: AsyncTestClient[Litestar], coupon_id: int, user: int, strategy: str | None = None) -> object:
    query = f"?strategy={strategy}" if strategy else ""
    return await client.post(f"/api/v1/coupons/{coupon_id}/issue{query}", json={"userId": user})


async def state(client: AsyncTestClient[Litestar], coupon_id: int, user: int) -> str:
    return str((await client.get(f"/api/v1/coupons/{coupon_id}/issued/{user}")).json()["result"]["state"])


@pytest.mark.parametrize("first", ["atomic-query", "pessimistic-lock", "atomic"])
async def test_the_default_gate_strategy_is_refused_on_a_coupon_another_family_issues(
    client: AsyncTestClient[Litestar], first: str
) -> None:
    coupon_id = await make_coupon(client, total=5)
    assert_envelope(await issue(client, coupon_id, 1, first), 200, "200")

    refused = await issue(client, coupon_id, 2)

    assert_envelope(refused, 409, "C010")
    assert await state(client, coupon_id, 2) == "none"
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["issuedCount"], view["remaining"]) == (1, 4)


@pytest.mark.parametrize("second", ["atomic-query", "pessimistic-lock", "no-lock", "atomic"])
async def test_a_database_strategy_is_refused_on_a_coupon_the_gate_issues(
    client: AsyncTestClient[Litestar], second: str
) -> None:
    coupon_id = await make_coupon(client, total=5)
    assert_envelope(await issue(client, coupon_id, 1, "lua"), 200, "200")

    refused = await issue(client, coupon_id, 2, second)

    assert_envelope(refused, 409, "C010")
    assert await state(client, coupon_id, 2) == "none"


async def test_strategies_of_one_family_share_a_coupon(client: AsyncTestClient[Litestar]) -> None:
    gated = await make_coupon(client, total=5)
    counted = await make_coupon(client, total=5)

    assert_envelope(await issue(client, gated, 1, "lua"), 200, "200")
    assert_envelope(await issue(client, gated, 2), 202, "202")
    assert_envelope(await issue(client, counted, 1, "atomic-query"), 200, "200")
    assert_envelope(await issue(client, counted, 2, "pessimistic-lock"), 200, "200")
    assert_envelope(await issue(client, counted, 3, "synchronized"), 200, "200")


async def test_a_refused_family_does_not_claim_another_coupon(client: AsyncTestClient[Litestar]) -> None:
    first = await make_coupon(client, total=5)
    other = await make_coupon(client, total=5)
    assert_envelope(await issue(client, first, 1, "atomic-query"), 200, "200")
    assert_envelope(await issue(client, first, 2), 409, "C010")

    assert_envelope(await issue(client, other, 2), 202, "202")


def family(name: str) -> str:
    card = discover()[name]
    return admission_family(card.name, getattr(card, "admission", None))


def test_families_follow_where_each_strategy_keeps_the_truth() -> None:
    assert {family(name) for name in ("lua", "lua-async")} == {GATE}
    database = ("no-lock", "synchronized", "synchronized-commit", "reentrant-lock", "semaphore")
    database += ("atomic-query", "pessimistic-lock", "distributed-lock", "spin-lock")
    assert {family(name) for name in database} == {DATABASE}
    assert family("atomic") not in {GATE, DATABASE}  # its counter lives in one process


def test_a_plug_in_stands_alone_unless_it_declares_a_family() -> None:
    class Declared(Strategy, name="declared", cross_process_safe=True, needs=[Capability.SQL], admission=DATABASE):
        """Decides from the rows, like the built-in SQL strategies."""

    class Undeclared(Strategy, name="undeclared", cross_process_safe=True, needs=[Capability.SQL]):
        """Decides from somewhere of its own."""

    class Inherited(CheckedInsertStrategy, name="inherited", cross_process_safe=True, needs=[Capability.SQL]):
        """Checks and inserts in the database, so decides from the rows."""

    by_hand = SimpleNamespace(name="by-hand", admission=GATE)  # satisfies the card without the base

    assert admission_family(Declared.name, Declared.admission) == DATABASE
    assert admission_family(Undeclared.name, Undeclared.admission) not in {GATE, DATABASE, family("atomic")}
    assert admission_family(Inherited.name, Inherited.admission) == DATABASE
    assert admission_family(by_hand.name, getattr(by_hand, "admission", None)) == GATE
    assert admission_family("bare", getattr(SimpleNamespace(name="bare"), "admission", None)) == "only:bare"


async def test_two_families_racing_for_a_fresh_coupon_are_answered_alike_in_every_process() -> None:
    db = MemoryDatabase()
    coupon = await MemoryCouponRepository(db).add(NewCoupon("race", 5))
    ledger = MemoryAdmissionLedger(db)
    processes = [AdmissionGuard(ledger) for _ in range(6)]
    strategies = ["lua-async", "atomic-query"] * 3
    named = [SimpleNamespace(name=name) for name in strategies]

    outcomes = await asyncio.gather(
        *(guard.check(coupon.id, strategy) for guard, strategy in zip(processes, named, strict=True)),  # type: ignore[arg-type]
        return_exceptions=True,
    )

    admitted = {name for name, outcome in zip(strategies, outcomes, strict=True) if outcome is None}
    refused = {
        name for name, outcome in zip(strategies, outcomes, strict=True) if isinstance(outcome, StrategyConflict)
    }
    assert len(admitted) == 1
    assert admitted | refused == {"lua-async", "atomic-query"}


async def test_a_user_whose_admission_the_full_database_will_refuse_reads_failed_not_pending() -> None:
    db = MemoryDatabase()
    coupons, issued, gate = MemoryCouponRepository(db), MemoryIssuedCouponRepository(db), MemoryIssuanceGate()
    coupon = await coupons.add(NewCoupon("full", 1))
    now = datetime.now(UTC)
    await gate.load_stock(coupon.id, 1, [])
    await gate.try_issue(coupon.id, 1)
    read = ReadUserIssue(coupons, issued, gate)
    assert await read.execute(coupon.id, 1) is UserIssueState.PENDING

    await issued.persist_capped([CouponIssued("e-2", coupon.id, 2, now)])  # the unit went elsewhere
    await issued.persist_capped([CouponIssued("e-1", coupon.id, 1, now)])  # refused over_cap, dead-lettered

    assert await read.execute(coupon.id, 1) is UserIssueState.FAILED
    assert await read.execute(coupon.id, 2) is UserIssueState.ISSUED
    assert await read.execute(coupon.id, 3) is UserIssueState.NONE
