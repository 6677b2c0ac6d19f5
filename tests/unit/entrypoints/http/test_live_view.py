"""The live view (docs/design.md, the live view): the snapshot computed from observed values, the counters, the
shared lag reader, and `/live` and `/console` over HTTP on the in-memory twins."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

import fcfs.entrypoints.http.live_view as live_view_module
from fcfs.adapters.memory.gate import MemoryIssuanceGate
from fcfs.adapters.memory.live_counters import MemoryLiveCounters
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.live import SampledLag
from fcfs.bootstrap.observability.instrumented_issue import InstrumentedIssueCoupon
from fcfs.bootstrap.observability.metrics import Metrics
from fcfs.bootstrap.settings import Settings
from fcfs.domain.coupon import Coupon, ValidityWindow
from fcfs.domain.coupon_state import CouponState
from fcfs.domain.errors import IssuancePaused, TemporaryFailure
from fcfs.domain.issuance import IssueCommand, IssueOutcome, IssueStatus
from fcfs.domain.live_view import GateCounts, live_snapshot
from fcfs.entrypoints.http.app import create_app
from tests.support.http_client import assert_envelope, make_coupon
from tests.support.sse import parse_events

TOKEN = "admin-secret-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def coupon(total: int = 100, state: CouponState = CouponState.OPEN) -> Coupon:
    return Coupon(7, "live", total, 0, ValidityWindow(), datetime(2026, 1, 1, tzinfo=UTC), state)


# The snapshot from observed values.


def test_a_gated_coupon_shows_the_gates_stock_and_admissions_with_the_rows_trailing() -> None:
    gate = GateCounts(remaining=40, admitted=60, answers={"C003": 5, "202": 3})
    snapshot = live_snapshot(coupon(), 1_000, 45, gate, gate_decides=True, lag=15)
    assert (snapshot.remaining, snapshot.accepted, snapshot.persisted, snapshot.pending) == (40, 60, 45, 15)
    assert list(snapshot.answers) == ["202", "C003"]
    assert (snapshot.lag, snapshot.second, snapshot.total_quantity) == (15, 1_000, 100)


def test_when_the_database_decides_accepted_is_the_rows_and_remaining_what_the_total_leaves() -> None:
    stale_gate = GateCounts(remaining=100, admitted=0)
    snapshot = live_snapshot(coupon(total=10), 5, 4, stale_gate, gate_decides=False, lag=None)
    assert (snapshot.remaining, snapshot.accepted, snapshot.pending) == (6, 4, 0)


def test_stock_never_loaded_reads_as_what_the_total_leaves() -> None:
    snapshot = live_snapshot(coupon(total=10), 5, 0, GateCounts(), gate_decides=True, lag=0)
    assert (snapshot.remaining, snapshot.accepted, snapshot.pending) == (10, 0, 0)


def test_pending_is_never_negative_and_more_rows_than_admissions_count_as_accepted() -> None:
    """Rows can outnumber the gate's users after the gate lost its state: every row was accepted."""
    snapshot = live_snapshot(coupon(), 5, 12, GateCounts(remaining=88, admitted=3), gate_decides=True, lag=0)
    assert (snapshot.accepted, snapshot.pending) == (12, 0)


@pytest.mark.parametrize(
    ("state", "paused", "closed"),
    [(CouponState.OPEN, False, False), (CouponState.PAUSED, True, False), (CouponState.CLOSED, False, True)],
)
def test_the_operators_switch_shows_as_paused_or_closed(state: CouponState, paused: bool, closed: bool) -> None:
    snapshot = live_snapshot(coupon(state=state), 5, 0, GateCounts(), gate_decides=True, lag=0)
    assert (snapshot.state, snapshot.paused, snapshot.closed) == (state, paused, closed)


# The counters and the answers they are fed.


class Ticking:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_answers_are_counted_per_coupon_per_second_and_read_with_the_gates_figures() -> None:
    gate = MemoryIssuanceGate()
    await gate.load_stock(7, 3, [11])
    clock = Ticking(100.4)
    counters = MemoryLiveCounters(gate, clock)
    counters.count(7, "202")
    counters.count(7, "202")
    counters.count(8, "C003")
    clock.now = 101.0
    counters.count(7, "C003")
    assert await counters.read(7, 100) == GateCounts(3, 1, {"202": 2})
    assert (await counters.read(7, 101)).answers == {"C003": 1}
    assert (await counters.read(7, 99)).answers == {}


class Answering:
    def __init__(self, answer: IssueOutcome | Exception) -> None:
        self.answer = answer

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Catalog:
    default_name = "lua"

    def get(self, name: str | None = None) -> object:
        return object()


async def test_every_answer_of_the_use_case_is_tallied_by_its_code_refusals_included() -> None:
    counters = MemoryLiveCounters(clock=Ticking(50.0))
    metrics = Metrics(CollectorRegistry())

    def tallied(answer: IssueOutcome | Exception) -> InstrumentedIssueCoupon:
        return InstrumentedIssueCoupon(Answering(answer), Catalog(), metrics, counters)

    accepted = tallied(IssueOutcome(IssueStatus.ACCEPTED, 7, 1, event_id="e-1"))
    assert (await accepted.execute(IssueCommand(7, 1))).status is IssueStatus.ACCEPTED
    await tallied(IssueOutcome(IssueStatus.SOLD_OUT, 7, 2)).execute(IssueCommand(7, 2))
    with pytest.raises(IssuancePaused):
        await tallied(IssuancePaused("coupon 7 is paused")).execute(IssueCommand(7, 3))
    with pytest.raises(RuntimeError):  # no answer of the use case: the metrics count it G001, the tally not at all
        await tallied(RuntimeError("boom")).execute(IssueCommand(7, 4))
    assert (await counters.read(7, 50)).answers == {"202": 1, "C003": 1, "C009": 1}
    metrics.buffer.flush()
    for code in ("202", "C003", "C009", "G001"):
        assert metrics.registry.get_sample_value("fcfs_issue_outcomes_total", {"code": code, "strategy": "lua"}) == 1


# The lag, read at most once a second however many consoles ask.


class CountingLag:
    def __init__(self, *values: int | TemporaryFailure) -> None:
        self.values = list(values)
        self.reads = 0

    async def total_lag(self) -> int:
        self.reads += 1
        await asyncio.sleep(0)
        value = self.values.pop(0)
        if isinstance(value, TemporaryFailure):
            raise value
        return value


async def test_the_lag_is_read_once_per_max_age_however_many_ask() -> None:
    inner, clock = CountingLag(5, 9), Ticking(0.0)
    lag = SampledLag(inner, max_age=1.0, clock=clock)
    assert await asyncio.gather(*(lag.total_lag() for _ in range(20))) == [5] * 20
    clock.now = 0.5
    assert await lag.total_lag() == 5
    assert inner.reads == 1


async def test_an_old_lag_is_shown_while_a_fresh_one_is_read() -> None:
    inner, clock = CountingLag(5, 9), Ticking(0.0)
    lag = SampledLag(inner, max_age=1.0, clock=clock)
    assert await lag.total_lag() == 5
    clock.now = 2.0
    assert await lag.total_lag() == 5  # at once, the refresh runs beside
    await asyncio.sleep(0.01)
    assert (await lag.total_lag(), inner.reads) == (9, 2)


async def test_a_broker_that_cannot_tell_is_a_failure_at_once_not_an_old_figure() -> None:
    inner, clock = CountingLag(5, TemporaryFailure("broker down")), Ticking(0.0)
    lag = SampledLag(inner, max_age=1.0, clock=clock)
    assert await lag.total_lag() == 5
    clock.now = 2.0
    await lag.total_lag()
    await asyncio.sleep(0.01)
    with pytest.raises(TemporaryFailure):
        await lag.total_lag()


# ReadLiveView and the HTTP surface on the in-memory twins.


@pytest.fixture
def app() -> Litestar:
    settings = Settings(strategy="lua-async", admin_token=TOKEN)
    served = create_app(settings, services=open_memory_services(settings), fast_issue=False)
    assert isinstance(served, Litestar)
    return served


async def test_a_snapshot_counts_the_accepted_and_the_answers_of_the_second_before(app: Litestar) -> None:
    async with AsyncTestClient(app) as client:
        client.headers.update(ADMIN)
        coupon_id = await make_coupon(client, total=2)
        for user in (1, 1, 2, 3):  # 202, C002, 202, C003
            await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": user})
        services = app.state.services
        now = int(time.time())
        snapshot = None
        for second in (now + 1, now + 2):  # the attempts fell in `now` or, rarely, the second after
            snapshot = await services.live_view.execute(coupon_id, second)
            if sum(snapshot.answers.values()) == 4:
                break
        assert snapshot is not None
        assert (snapshot.remaining, snapshot.accepted, snapshot.persisted, snapshot.pending) == (0, 2, 0, 2)
        assert snapshot.answers == {"202": 2, "C002": 1, "C003": 1}


async def test_live_streams_a_snapshot_at_once_then_one_per_second(
    app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_view_module, "LIVE_LIFETIME_SECONDS", 1.5)
    async with AsyncTestClient(app) as client:
        client.headers.update(ADMIN)
        coupon_id = await make_coupon(client, total=5)
        await client.post(f"/api/v1/coupons/{coupon_id}/pause")
        response = await client.get(f"/api/v1/coupons/{coupon_id}/live")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text).events
    assert len(events) >= 2
    assert {event.event for event in events} == {"snapshot"}
    first = events[0].data
    assert first == first | {"couponId": coupon_id, "state": "paused", "paused": True, "closed": False}
    assert (first["remaining"], first["accepted"], first["persisted"], first["pending"]) == (5, 0, 0, 0)
    assert first["totalQuantity"] == 5 and first["lag"] is None
    seconds = [event.data["second"] for event in events]
    assert seconds == sorted(set(seconds))


async def test_live_needs_the_admin_token_and_a_coupon_that_exists(app: Litestar) -> None:
    async with AsyncTestClient(app) as client:
        client.headers.update(ADMIN)
        coupon_id = await make_coupon(client, total=1)
        client.headers.pop("Authorization", None)
        assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/live"), 401, "A001")
        client.headers.update(ADMIN)
        assert_envelope(await client.get("/api/v1/coupons/987654/live"), 404, "C001")
        assert_envelope(await client.get("/api/v1/coupons/0x1/live"), 400, "G002")


async def test_the_console_page_and_its_assets_come_from_this_server_only(app: Litestar) -> None:
    async with AsyncTestClient(app) as client:
        page = await client.get("/console/coupons/42")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert 'data-testid="remaining"' in page.text and "http" not in page.text.replace("http-equiv", "")
        for asset, kind in (("console.js", "javascript"), ("console.css", "text/css")):
            served = await client.get(f"/console/static/{asset}")
            assert served.status_code == 200 and kind in served.headers["content-type"]
            assert "https://" not in served.text
        assert_envelope(await client.get("/console/coupons/abc"), 400, "G002")


def test_no_token_ever_goes_in_a_url_the_console_builds() -> None:
    from fcfs.entrypoints.http.console import ASSETS

    script = (ASSETS / "console.js").read_text()
    assert "Authorization" in script and "EventSource" not in script.replace("EventSource cannot", "")
    assert not any("token" in line and "fetch(" in line and "?" in line for line in script.splitlines())
