"""One wiring graph: the in-memory services and every test double come from the container by `override`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector import providers

from fcfs.bootstrap.container import Container, open_memory_services, resolved, started, use_memory_backends
from fcfs.bootstrap.pipeline import PipelineContainer
from fcfs.bootstrap.settings import Settings
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.issuance import GateVerdict, IssueCommand, IssueStatus
from fcfs.ports.gate import IssuanceGate
from fcfs.ports.lag import ConsumerLag

if TYPE_CHECKING:
    from pathlib import Path


class AnsweringGate(IssuanceGate):
    """A hot-path gate that answers one verdict and remembers who asked."""

    def __init__(self, verdict: GateVerdict) -> None:
        self.verdict = verdict
        self.asked: list[tuple[int, int]] = []

    async def try_issue(self, coupon_id: int, user_id: int) -> GateVerdict:
        self.asked.append((coupon_id, user_id))
        return self.verdict

    async def compensate(self, coupon_id: int, user_id: int) -> bool:
        return False


class NoLag(ConsumerLag):
    async def total_lag(self) -> int:
        return 0


async def test_the_issue_use_case_asks_the_gate_the_container_was_given() -> None:
    container = use_memory_backends(Container(settings=Settings(strategy="lua", sold_out_ttl_seconds=0)))
    gate = AnsweringGate(GateVerdict.ALREADY_ISSUED)
    container.gate.override(providers.Object(gate))
    async with started(container) as services:
        coupon = await services.create_coupon.execute(NewCoupon("launch", 3))
        outcome = await services.issue_coupon.execute(IssueCommand(coupon.id, 7))
    assert outcome.status is IssueStatus.ALREADY_ISSUED
    assert gate.asked == [(coupon.id, 7)]


async def test_the_memory_graph_starts_nothing_and_offers_every_strategy() -> None:
    async with open_memory_services(Settings(strategy="lua-async")) as services:
        assert services.checks == []
        for name in ("no-lock", "pessimistic-lock", "distributed-lock", "lua", "lua-async"):
            assert services.strategies.get(name).name == name


async def test_the_memory_graph_keeps_the_decorator_chain_the_api_has() -> None:
    settings = Settings(strategy="lua", sold_out_ttl_seconds=60)
    container = use_memory_backends(Container(settings=settings))
    gate = AnsweringGate(GateVerdict.SOLD_OUT)
    container.gate.override(providers.Object(gate))
    async with started(container) as services:
        coupon = await services.create_coupon.execute(NewCoupon("launch", 1))
        for user in (1, 2, 3):
            assert (await services.issue_coupon.execute(IssueCommand(coupon.id, user))).status is IssueStatus.SOLD_OUT
    assert gate.asked == [(coupon.id, 1)]  # the sold-out shortcut answered the rest


async def test_the_pipeline_graph_reconciles_over_the_memory_backends(tmp_path: Path) -> None:
    container = use_memory_backends(PipelineContainer(settings=Settings(strategy="lua"), heartbeat_path=tmp_path))
    container.lag.override(providers.Object(NoLag()))
    async with started(container) as services:
        coupon = await services.create_coupon.execute(NewCoupon("launch", 4))
        await services.load_stock.execute(coupon.id)
        assert (await services.issue_coupon.execute(IssueCommand(coupon.id, 1))).status is IssueStatus.ISSUED
        report = await (await resolved(container.reconcile)).execute(coupon.id, dry_run=True)
    assert (report.rows, report.gate_stock, report.gate_users) == (1, 3, 1)
    assert report.consistent
