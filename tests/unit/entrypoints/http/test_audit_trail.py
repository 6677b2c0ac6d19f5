"""The audit trail: every admin action a row (refusals too), read back newest first a page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from fcfs.adapters.memory.audit import MemoryAuditLog
from fcfs.adapters.memory.clock import FixedClock
from fcfs.adapters.memory.store import MemoryCouponRepository, MemoryDatabase
from fcfs.bootstrap.audited_reconcile import AuditedReconcile
from fcfs.bootstrap.container import Container, open_memory_services, started, use_memory_backends
from fcfs.bootstrap.settings import Settings
from fcfs.domain.audit import AdminAction, NewAuditEntry
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.errors import CouponNotFound, InvalidInput
from fcfs.domain.use_cases import Operator, ReadAuditTrail, ReconcileReport, RecordAdminAction
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.audit_trail import admin_action, operator
from tests.support.http_client import assert_envelope

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ADMIN = {"Authorization": "Bearer admin-token"}
OPERATOR = Operator("admin", "10.0.0.7", "req-1")


def entry(coupon_id: int | None, action: AdminAction = AdminAction.PAUSE, outcome: str = "200") -> NewAuditEntry:
    return NewAuditEntry(action, coupon_id, {"n": 1}, outcome, "req", "10.0.0.1", "admin", NOW)


# --- the memory twin and the read use case -------------------------------------------------------


async def test_the_memory_log_pages_a_coupons_entries_newest_first() -> None:
    log = MemoryAuditLog()
    ids = [(await log.record(entry(coupon))).id for coupon in (1, 2, 1, 1, 2, 1)]
    assert ids == [1, 2, 3, 4, 5, 6]
    assert [e.id for e in await log.entries(1, 10)] == [6, 4, 3, 1]
    assert [e.id for e in await log.entries(1, 2)] == [6, 4]
    assert [e.id for e in await log.entries(1, 2, before=4)] == [3, 1]
    assert await log.entries(3, 10) == []


async def test_reading_pages_through_the_whole_trail_once_with_the_cursor() -> None:
    log, db = MemoryAuditLog(), MemoryDatabase()
    coupon = await MemoryCouponRepository(db).add(NewCoupon("c", 5))
    for _ in range(5):
        await log.record(entry(coupon.id))
    read = ReadAuditTrail(log, MemoryCouponRepository(db))

    first = await read.execute(coupon.id, limit=2)
    second = await read.execute(coupon.id, limit=2, before=first.next_before)
    last = await read.execute(coupon.id, limit=2, before=second.next_before)

    assert [[e.id for e in page.entries] for page in (first, second, last)] == [[5, 4], [3, 2], [1]]
    assert (first.next_before, second.next_before, last.next_before) == (4, 2, None)


async def test_a_full_last_page_has_no_next_cursor() -> None:
    log, db = MemoryAuditLog(), MemoryDatabase()
    for _ in range(2):
        await log.record(entry(9))
    page = await ReadAuditTrail(log, MemoryCouponRepository(db)).execute(9, limit=2)
    assert page.next_before is None


@pytest.mark.parametrize("limit", [0, 101, -1])
async def test_a_limit_outside_one_to_a_hundred_is_invalid(limit: int) -> None:
    with pytest.raises(InvalidInput):
        await ReadAuditTrail(MemoryAuditLog(), MemoryCouponRepository(MemoryDatabase())).execute(1, limit=limit)


@pytest.mark.parametrize("before", [0, -5, 2**63])
async def test_a_cursor_that_is_not_an_id_is_invalid(before: int) -> None:
    with pytest.raises(InvalidInput):
        await ReadAuditTrail(MemoryAuditLog(), MemoryCouponRepository(MemoryDatabase())).execute(1, before=before)


async def test_an_unknown_coupon_without_a_trail_is_not_found_but_a_deleted_ones_trail_reads() -> None:
    log = MemoryAuditLog()
    read = ReadAuditTrail(log, MemoryCouponRepository(MemoryDatabase()))
    with pytest.raises(CouponNotFound):
        await read.execute(7)
    await log.record(entry(7, AdminAction.DELETE))
    assert [e.action for e in (await read.execute(7)).entries] == [AdminAction.DELETE]


async def test_recording_stamps_the_clocks_time_and_bounds_free_text() -> None:
    log = MemoryAuditLog()
    recorded = await RecordAdminAction(log, FixedClock(NOW)).execute(
        AdminAction.CLOSE, 3, {"why": "pricing"}, "200", Operator("a" * 500, "::1", None)
    )
    assert recorded.at == NOW
    assert len(recorded.actor) == 128
    assert (await log.entries(3, 1))[0] == recorded


# --- reconciliation -------------------------------------------------------------------------------


def report(coupon_id: int) -> ReconcileReport:
    return ReconcileReport(coupon_id, 10, 0, 3, 7, 3, (), (), (), (4,), (), 7, (), (), dry_run=False)


class FakeReconcile:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def execute(self, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
        if self.error is not None:
            raise self.error
        return report(coupon_id)


async def test_every_reconcile_run_is_a_row_with_its_outcome() -> None:
    log = MemoryAuditLog()
    record = RecordAdminAction(log, FixedClock(NOW))
    await AuditedReconcile(FakeReconcile(), record, OPERATOR).execute(5, dry_run=False)
    with pytest.raises(CouponNotFound):
        await AuditedReconcile(FakeReconcile(CouponNotFound("gone")), record, OPERATOR).execute(5, dry_run=True)

    refused, done = await log.entries(5, 10)
    assert (done.action, done.outcome, done.request_id) == (AdminAction.RECONCILE, "200", "req-1")
    assert done.parameters["dryRun"] is False
    assert done.parameters["republished"] == 1
    assert done.parameters["rebuiltStock"] == 7
    assert (refused.outcome, refused.parameters) == ("C001", {"dryRun": True})


async def test_a_reconcile_whose_audit_write_fails_still_reports_and_logs_the_entry() -> None:
    log = MemoryAuditLog()
    log.failing = OSError("database gone")
    with capture_logs() as logs:
        result = await AuditedReconcile(FakeReconcile(), RecordAdminAction(log, FixedClock(NOW)), OPERATOR).execute(5)
    assert result == report(5)
    assert [line["event"] for line in logs if line["log_level"] == "error"] == ["audit_write_failed"]


# --- over HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template", "expected"),
    [
        ("POST", "/api/v1/coupons", AdminAction.CREATE),
        ("DELETE", "/api/v1/coupons/{coupon_id:str}", AdminAction.DELETE),
        ("POST", "/api/v1/coupons/{coupon_id:str}/stock", AdminAction.STOCK),
        ("POST", "/api/v1/coupons/{coupon_id}/pause", AdminAction.PAUSE),
        ("POST", "/api/v1/coupons/{coupon_id:str}/resume", AdminAction.RESUME),
        ("POST", "/api/v1/coupons/{coupon_id:str}/close", AdminAction.CLOSE),
        ("POST", "/api/v1/coupons/{coupon_id:str}/issue", None),
        ("GET", "/api/v1/coupons/{coupon_id:str}", None),
        ("GET", "/api/v1/coupons/{coupon_id:str}/audit", None),
        ("POST", "/health", None),
    ],
)
def test_routes_map_to_their_admin_action(method: str, template: str, expected: AdminAction | None) -> None:
    assert admin_action(method, template) is expected


def test_every_admin_route_that_changes_something_is_audited() -> None:
    """A new admin endpoint that is not in `ADMIN_ACTIONS` fails here, not silently in production."""
    settings = Settings(strategy="lua", admin_token="admin-token")
    app: Any = create_app(settings, services=open_memory_services(settings), fast_issue=False)
    admin_writes = [
        (method, route.path)
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        for method in handler.http_methods
        if method in {"POST", "PUT", "PATCH", "DELETE"} and handler.security == [{"adminToken": []}]
    ]
    assert len(admin_writes) >= 6
    assert [(m, p) for m, p in admin_writes if admin_action(m, p) is None] == []


@pytest.fixture
def audit_log() -> MemoryAuditLog:
    return MemoryAuditLog()


@pytest.fixture
async def client(audit_log: MemoryAuditLog) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(strategy="lua", admin_token="admin-token")
    container = use_memory_backends(Container(settings=settings))
    container.audit_log.override(providers.Object(audit_log))
    async with AsyncTestClient(create_app(settings, services=started(container))) as test_client:
        yield test_client


def post(client: AsyncTestClient, path: str, request_id: str, body: Any = None) -> Any:  # type: ignore[type-arg]
    headers = ADMIN | {"X-Request-ID": request_id}
    return client.post(path, json=body, headers=headers) if body is not None else client.post(path, headers=headers)


async def audit(client: AsyncTestClient, coupon_id: int, query: str = "") -> Any:  # type: ignore[type-arg]
    response = await client.get(f"/api/v1/coupons/{coupon_id}/audit{query}", headers=ADMIN)
    assert_envelope(response, 200, "200")
    return response.json()["result"]


async def test_each_admin_action_is_listed_newest_first_with_its_request_id_and_outcome(client) -> None:
    created = await post(client, "/api/v1/coupons", "r-create", {"name": "launch", "totalQuantity": 5})
    coupon_id = int(created.json()["result"]["id"])
    base = f"/api/v1/coupons/{coupon_id}"
    assert (await post(client, f"{base}/stock", "r-stock")).status_code == 200
    assert (await post(client, f"{base}/pause", "r-pause")).status_code == 200
    assert (await post(client, f"{base}/resume", "r-resume")).status_code == 200
    assert (await post(client, f"{base}/stock", "r-top-up", {"add": 3})).status_code == 200
    assert (await post(client, f"{base}/close", "r-close")).status_code == 200
    refused = await post(client, f"{base}/resume", "r-refused")
    assert refused.status_code == 409
    deleted = await client.delete(base, headers=ADMIN | {"X-Request-ID": "r-delete"})
    assert deleted.status_code == 200

    trail = await audit(client, coupon_id)
    rows = [(e["action"], e["requestId"], e["outcome"]) for e in trail["entries"]]
    assert rows == [
        ("delete", "r-delete", "200"),
        ("resume", "r-refused", refused.json()["code"]),
        ("close", "r-close", "200"),
        ("top-up", "r-top-up", "200"),
        ("resume", "r-resume", "200"),
        ("pause", "r-pause", "200"),
        ("stock", "r-stock", "200"),
        ("create", "r-create", "201"),
    ]
    by_action = {e["action"]: e for e in trail["entries"]}
    assert by_action["create"]["parameters"] == {"name": "launch", "totalQuantity": 5}
    assert by_action["top-up"]["parameters"] == {"add": 3}
    assert all(e["couponId"] == coupon_id and e["actor"] == "admin" for e in trail["entries"])
    assert all(e["clientAddress"] and e["at"] for e in trail["entries"])
    assert trail["nextBefore"] is None


async def test_refusals_are_recorded_too_even_without_a_coupon(client, audit_log: MemoryAuditLog) -> None:
    missing = await post(client, "/api/v1/coupons/999/pause", "r-missing")
    assert_envelope(missing, 404, "C001")
    invalid = await post(client, "/api/v1/coupons", "r-invalid", {"name": "", "totalQuantity": 0})
    assert invalid.status_code == 400

    trail = await audit(client, 999)
    assert [(e["action"], e["outcome"]) for e in trail["entries"]] == [("pause", "C001")]
    refused_create = audit_log._entries[-1]
    assert (refused_create.action, refused_create.coupon_id, refused_create.outcome) == (
        AdminAction.CREATE,
        None,
        "G002",
    )


async def test_a_caller_without_the_admin_token_writes_no_row(client, audit_log: MemoryAuditLog) -> None:
    created = await post(client, "/api/v1/coupons", "r-create", {"name": "c", "totalQuantity": 5})
    coupon_id = int(created.json()["result"]["id"])
    wrong = {"Authorization": "Bearer nope"}
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/pause", headers=wrong), 401, "A001")
    assert (await client.post("/api/v1/coupons/abc/pause", headers=wrong)).status_code in {400, 401}
    assert [e.action for e in audit_log._entries] == [AdminAction.CREATE]
    assert_envelope(await client.get(f"/api/v1/coupons/{coupon_id}/audit", headers=wrong), 401, "A001")


async def test_the_trail_pages_with_limit_and_the_before_cursor(client) -> None:
    created = await post(client, "/api/v1/coupons", "r-0", {"name": "c", "totalQuantity": 5})
    coupon_id = int(created.json()["result"]["id"])
    for n in range(1, 5):
        await post(client, f"/api/v1/coupons/{coupon_id}/{'pause' if n % 2 else 'resume'}", f"r-{n}")

    seen: list[str] = []
    query = "?limit=2"
    while True:
        page = await audit(client, coupon_id, query)
        assert len(page["entries"]) <= 2
        seen += [e["requestId"] for e in page["entries"]]
        if page["nextBefore"] is None:
            break
        query = f"?limit=2&before={page['nextBefore']}"
    assert seen == ["r-4", "r-3", "r-2", "r-1", "r-0"]


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=101", "?limit=abc", "?limit=-1", "?limit=1.5", "?before=0", "?before=x", "?before=-3"]
)
async def test_bad_paging_input_is_400_g002(client, query: str) -> None:
    created = await post(client, "/api/v1/coupons", "r", {"name": "c", "totalQuantity": 5})
    coupon_id = int(created.json()["result"]["id"])
    response = await client.get(f"/api/v1/coupons/{coupon_id}/audit{query}", headers=ADMIN)
    assert_envelope(response, 400, "G002")


async def test_an_unknown_coupon_with_no_trail_is_404(client) -> None:
    assert_envelope(await client.get("/api/v1/coupons/12345/audit", headers=ADMIN), 404, "C001")


async def test_a_failed_audit_write_keeps_the_actions_answer_and_logs_the_entry(
    client, audit_log: MemoryAuditLog
) -> None:
    created = await post(client, "/api/v1/coupons", "r-create", {"name": "c", "totalQuantity": 5})
    coupon_id = int(created.json()["result"]["id"])
    audit_log.failing = OSError("database unreachable")
    with capture_logs() as logs:
        paused = await post(client, f"/api/v1/coupons/{coupon_id}/pause", "r-pause")
    assert_envelope(paused, 200, "200")
    assert paused.headers["x-fcfs-audit"] == "unrecorded"
    failures = [line for line in logs if line["event"] == "audit_write_failed"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "error"
    assert (failures[0]["action"], failures[0]["coupon_id"], failures[0]["outcome"]) == ("pause", coupon_id, "200")
    audit_log.failing = None
    state = await client.get(f"/api/v1/coupons/{coupon_id}")
    assert state.json()["result"]["state"] == "paused"  # the action did happen


async def test_the_client_address_is_the_rate_limiters_trusted_proxies_honoured() -> None:
    settings = Settings(strategy="lua", trusted_proxies="10.0.0.0/8")
    async with open_memory_services(settings) as services:
        via_proxy: Any = {"client": ("10.1.2.3", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.2")]}
        direct: Any = {"client": ("198.51.100.4", 5000), "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
        assert operator(via_proxy, services).client_address == "203.0.113.9"
        assert operator(direct, services).client_address == "198.51.100.4"
