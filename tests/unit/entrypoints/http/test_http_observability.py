"""Request ids, /metrics and the counting decorators; the sold-out flag that saves gate calls."""

from __future__ import annotations

import asyncio
import re

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.bootstrap.bulkhead import Bulkhead
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.observability.gauges import bulkhead_observer
from fcfs.bootstrap.observability.instrumented_gate import InstrumentedGate
from fcfs.bootstrap.observability.instrumented_issue import InstrumentedIssueCoupon
from fcfs.bootstrap.observability.metrics import Metrics, process_metrics
from fcfs.bootstrap.settings import Settings
from fcfs.bootstrap.sold_out import SoldOutFlags, SoldOutShortcut
from fcfs.domain.errors import SystemBusy
from fcfs.domain.issuance import GateVerdict, IssueCommand, IssueOutcome, IssueStatus
from fcfs.entrypoints.http.app import create_app
from tests.support.http_client import make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    metrics.buffer.flush()  # what a scrape in a later loop turn would see
    return metrics.registry.get_sample_value(name, labels) or 0.0


def fresh_metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def client() -> AsyncTestClient:  # type: ignore[type-arg]
    settings = Settings(strategy="lua")
    return AsyncTestClient(create_app(settings, services=open_memory_services(settings)))


async def test_a_sane_request_id_is_echoed_and_a_missing_or_odd_one_is_generated() -> None:
    async with client() as http:
        assert (await http.get("/health", headers={"X-Request-ID": "lb-1234.abc"})).headers[
            "x-request-id"
        ] == "lb-1234.abc"
        generated = set()
        for sent in ({}, {"X-Request-ID": "has spaces"}, {"X-Request-ID": "x" * 129}, {}):
            made = (await http.get("/health", headers=sent)).headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", made), made
            generated.add(made)
        assert len(generated) == 4
        assert (await http.get("/nowhere", headers={"X-Request-ID": "r-404"})).headers["x-request-id"] == "r-404"


async def test_metrics_count_issue_outcomes_and_http_responses_by_route_template() -> None:
    metrics = process_metrics()
    before_issued = sample(metrics, "fcfs_issue_outcomes_total", code="200", strategy="lua")
    before_sold_out = sample(metrics, "fcfs_issue_outcomes_total", code="C003", strategy="lua")
    route = "/api/v1/coupons/{coupon_id}/issue"
    before_http = sample(metrics, "fcfs_http_requests_total", method="POST", route=route, status="409")
    before_unmatched = sample(metrics, "fcfs_http_requests_total", method="GET", route="unmatched", status="404")
    async with client() as http:
        coupon_id = await make_coupon(http, total=1)
        for user in (1, 2, 3):
            await http.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": user})
        await http.get("/no/such/route")
        text = (await http.get("/metrics")).text
    assert sample(metrics, "fcfs_issue_outcomes_total", code="200", strategy="lua") - before_issued == 1
    assert sample(metrics, "fcfs_issue_outcomes_total", code="C003", strategy="lua") - before_sold_out == 2
    assert sample(metrics, "fcfs_http_requests_total", method="POST", route=route, status="409") - before_http == 2
    assert (
        sample(metrics, "fcfs_http_requests_total", method="GET", route="unmatched", status="404") - before_unmatched
        == 1
    )
    for name in ("fcfs_issue_outcomes_total", "fcfs_issue_latency_seconds_bucket", "fcfs_bulkhead_in_flight"):
        assert name in text


class Scripted:
    def __init__(self, *results: IssueOutcome | Exception) -> None:
        self.results = list(results)
        self.calls = 0

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


class Catalog:
    default_name = "lua"

    def get(self, name: str | None = None) -> object:
        if name not in (None, "lua"):
            from fcfs.domain.errors import UnknownStrategy

            raise UnknownStrategy(name)
        return object()


async def test_every_attempt_is_counted_by_its_code_errors_included_and_strategy_labels_are_not_invented() -> None:
    metrics = fresh_metrics()
    inner = Scripted(
        IssueOutcome(IssueStatus.ISSUED, 1, 1), SystemBusy("full"), IssueOutcome(IssueStatus.SOLD_OUT, 1, 3)
    )
    metered = InstrumentedIssueCoupon(inner, Catalog(), metrics)
    await metered.execute(IssueCommand(1, 1))
    try:
        await metered.execute(IssueCommand(1, 2))
    except SystemBusy:
        pass
    await metered.execute(IssueCommand(1, 3), "made-up-name")
    assert sample(metrics, "fcfs_issue_outcomes_total", code="200", strategy="lua") == 1
    assert sample(metrics, "fcfs_issue_outcomes_total", code="S002", strategy="lua") == 1
    assert sample(metrics, "fcfs_issue_outcomes_total", code="C003", strategy="unknown") == 1
    assert sample(metrics, "fcfs_issue_latency_seconds_count", strategy="lua") == 2


async def test_bulkhead_state_is_mirrored_into_gauges_and_rejections_counted() -> None:
    metrics = fresh_metrics()
    bulkhead = Bulkhead("issue", 1, 0.01, bulkhead_observer(metrics))
    async with bulkhead.enter():
        assert sample(metrics, "fcfs_bulkhead_in_flight") == 1
        for _ in range(2):
            try:
                async with bulkhead.enter():
                    pass
            except SystemBusy:
                pass
    assert sample(metrics, "fcfs_bulkhead_in_flight") == 0
    assert sample(metrics, "fcfs_bulkhead_waiting") == 0
    assert sample(metrics, "fcfs_bulkhead_rejected_total") == 2


async def test_bulkhead_gauges_hold_the_state_at_the_end_of_each_turn_without_a_flush() -> None:
    metrics = fresh_metrics()
    bulkhead = Bulkhead("issue", 2, 5.0, bulkhead_observer(metrics))

    async def gauges() -> tuple[float | None, ...]:
        for _ in range(3):  # the turn ends, and the buffer's flush runs
            await asyncio.sleep(0)
        names = ("fcfs_bulkhead_in_flight", "fcfs_bulkhead_waiting")
        return tuple(metrics.registry.get_sample_value(name) for name in names)

    await bulkhead.acquire()
    assert await gauges() == (1, 0)
    await bulkhead.acquire()
    waiter = asyncio.create_task(bulkhead.acquire())
    assert await gauges() == (2, 1)
    bulkhead.release()  # the place passes to the waiter
    await waiter
    assert await gauges() == (2, 0)
    bulkhead.release()
    bulkhead.release()
    assert await gauges() == (0, 0)


async def test_gate_calls_are_timed() -> None:
    metrics = fresh_metrics()
    gate = MemoryIssuanceGate()
    await gate.load_stock(1, 1, [])
    timed = InstrumentedGate(gate, metrics)
    assert await timed.try_issue(1, 1) is GateVerdict.ISSUED
    assert await timed.try_issue(1, 2) is GateVerdict.SOLD_OUT
    assert sample(metrics, "fcfs_gate_seconds_count") == 2
    assert await gate.remaining(1) == 0


async def test_after_sold_out_the_flag_answers_without_calling_inside_until_it_expires() -> None:
    now = [0.0]
    flags = SoldOutFlags(ttl=1.0, now=lambda: now[0])
    inner = Scripted(
        IssueOutcome(IssueStatus.SOLD_OUT, 1, 1),
        IssueOutcome(IssueStatus.ISSUED, 1, 3),
        IssueOutcome(IssueStatus.ISSUED, 2, 4),
    )
    shortcut = SoldOutShortcut(inner, flags)
    assert (await shortcut.execute(IssueCommand(1, 1))).status is IssueStatus.SOLD_OUT
    assert (await shortcut.execute(IssueCommand(1, 2))).status is IssueStatus.SOLD_OUT
    assert inner.calls == 1
    assert (await shortcut.execute(IssueCommand(2, 4))).status is IssueStatus.ISSUED  # other coupons unaffected
    now[0] = 1.5
    assert (await shortcut.execute(IssueCommand(1, 3))).status is IssueStatus.ISSUED
    assert inner.calls == 3


async def test_loading_stock_clears_the_sold_out_flag_at_once() -> None:
    settings = Settings(strategy="lua", sold_out_ttl_seconds=60)
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as http:
        coupon_id = await make_coupon(http, total=2, load=False)
        assert (await http.post(f"/api/v1/coupons/{coupon_id}/stock", json={"quantity": 1})).status_code == 200
        url = f"/api/v1/coupons/{coupon_id}/issue"
        assert (await http.post(url, json={"userId": 1})).json()["code"] == "200"
        assert (await http.post(url, json={"userId": 2})).json()["code"] == "C003"
        assert (await http.post(f"/api/v1/coupons/{coupon_id}/stock")).status_code == 200  # the second unit
        assert (await http.post(url, json={"userId": 2})).json()["code"] == "200"


async def test_deleting_a_coupon_clears_its_flag() -> None:
    settings = Settings(strategy="lua", sold_out_ttl_seconds=60)
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as http:
        coupon_id = await make_coupon(http, total=1)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        await http.post(url, json={"userId": 1})
        assert (await http.post(url, json={"userId": 2})).json()["code"] == "C003"
        assert (await http.delete(f"/api/v1/coupons/{coupon_id}")).status_code == 200
        assert (await http.post(url, json={"userId": 2})).json()["code"] == "C001"


async def test_consumer_hooks_count_batches_once_and_dead_letters_by_reason() -> None:
    import asyncio

    from fcfs.bootstrap.observability.instrumented_pipeline import (
        InstrumentedDeadLetters,
        consumer_lag_sampled,
        instrumented_batches,
    )
    from fcfs.domain.events import DeadLetterReason, DeadLetterSource, IssueDeadLettered
    from fcfs.ports.consumer import ConsumedBatch, RejectedRecord

    metrics = fresh_metrics()
    handled: list[int] = []

    async def handler(batch: ConsumedBatch) -> object:
        handled.append(len(batch))
        return None

    metered = instrumented_batches(handler, metrics)
    batch = ConsumedBatch(rejected=(RejectedRecord(b"x", None, DeadLetterReason.UNDECODABLE, "?"),) * 3)
    await metered(batch)
    await metered(batch)  # the loop retrying the same batch
    assert handled == [3, 3]
    assert sample(metrics, "fcfs_consumer_batch_size_count") == 1
    assert sample(metrics, "fcfs_consumer_batch_size_sum") == 3

    class Letters:
        async def dead_letter(self, letter: IssueDeadLettered) -> None:
            pass

    letters = InstrumentedDeadLetters(Letters(), metrics)
    for reason in (DeadLetterReason.OVER_CAP, DeadLetterReason.OVER_CAP, DeadLetterReason.INVALID):
        await letters.dead_letter(IssueDeadLettered(b"x", None, DeadLetterSource.CONSUMER, reason))
    assert sample(metrics, "fcfs_dead_letters_total", reason="over_cap") == 2
    assert sample(metrics, "fcfs_dead_letters_total", reason="invalid") == 1

    class Lag:
        async def total_lag(self) -> int:
            return 17

    async with consumer_lag_sampled(Lag(), metrics, interval=0.01):
        await asyncio.sleep(0.05)
    assert sample(metrics, "fcfs_consumer_lag") == 17


def test_log_lines_carry_the_request_id_while_a_request_is_served() -> None:
    from fcfs.entrypoints.http.request_context import REQUEST_ID, add_request_id

    assert add_request_id(None, "info", {"event": "x"}) == {"event": "x"}
    token = REQUEST_ID.set("r-1")
    try:
        assert add_request_id(None, "info", {"event": "x"}) == {"event": "x", "request_id": "r-1"}
    finally:
        REQUEST_ID.reset(token)


def test_serve_prepares_an_emptied_multiprocess_directory_and_removes_it_after(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import os

    from fcfs.bootstrap.observability.metrics import MULTIPROC_ENV, multiprocess_dir

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_dir(tmp_path) as path:
        assert os.environ[MULTIPROC_ENV] == str(path)
        assert path.is_dir() and path.is_relative_to(tmp_path)
    assert MULTIPROC_ENV not in os.environ
    assert not path.exists()

    given = tmp_path / "operator"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    with multiprocess_dir(tmp_path) as path:
        assert path == given and not list(given.glob("*.db"))
    assert given.is_dir() and os.environ[MULTIPROC_ENV] == str(given)
