"""The live controls over HTTP on the in-memory twins: codes, admin token, the coupon's state and top-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from tests.support.http_client import assert_envelope, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")

TOKEN = "admin-secret-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["lua", "pessimistic-lock"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    settings = Settings(strategy=request.param, admin_token=TOKEN)
    app = create_app(settings, services=open_memory_services(settings))
    async with AsyncTestClient(app) as test_client:
        test_client.headers.update(ADMIN)
        yield test_client


async def issue(client, coupon_id: int, user: int):  # type: ignore[no-untyped-def]
    return await client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": user})


async def state_of(client, coupon_id: int) -> str:  # type: ignore[no-untyped-def]
    return str((await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]["state"])


async def test_pause_answers_c009_until_resume(client) -> None:
    coupon_id = await make_coupon(client, total=3)
    assert await state_of(client, coupon_id) == "open"
    paused = await client.post(f"/api/v1/coupons/{coupon_id}/pause")
    assert_envelope(paused, 200, "200")
    assert paused.json()["result"] == {"couponId": coupon_id, "state": "paused"}
    assert await state_of(client, coupon_id) == "paused"
    assert_envelope(await issue(client, coupon_id, 1), 409, "C009")
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["issuedCount"], view["remaining"]) == (0, 3)

    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/resume"), 200, "200")
    assert (await issue(client, coupon_id, 1)).json()["code"] in {"200", "202"}


async def test_close_answers_c005_and_cannot_be_undone(client) -> None:
    coupon_id = await make_coupon(client, total=3)
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/close"), 200, "200")
    assert await state_of(client, coupon_id) == "closed"
    assert_envelope(await issue(client, coupon_id, 1), 409, "C005")
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/resume"), 409, "C005")
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/pause"), 409, "C005")


async def test_a_pause_is_not_hidden_by_this_instance_sold_out_flag(client) -> None:
    coupon_id = await make_coupon(client, total=1)
    assert (await issue(client, coupon_id, 1)).json()["code"] in {"200", "202"}
    assert_envelope(await issue(client, coupon_id, 2), 409, "C003")  # raises the sold-out flag
    await client.post(f"/api/v1/coupons/{coupon_id}/pause")
    assert_envelope(await issue(client, coupon_id, 3), 409, "C009")


async def test_a_paused_answer_is_not_replayed_for_the_same_idempotency_key(client) -> None:
    coupon_id = await make_coupon(client, total=2)
    await client.post(f"/api/v1/coupons/{coupon_id}/pause")
    keyed = {"Idempotency-Key": "retry-after-resume"}
    url = f"/api/v1/coupons/{coupon_id}/issue"
    assert_envelope(await client.post(url, json={"userId": 5}, headers=keyed), 409, "C009")
    await client.post(f"/api/v1/coupons/{coupon_id}/resume")
    assert (await client.post(url, json={"userId": 5}, headers=keyed)).json()["code"] in {"200", "202"}


async def test_controls_need_the_admin_token(client) -> None:
    coupon_id = await make_coupon(client, total=1)
    for action in ("pause", "resume", "close"):
        response = await client.post(f"/api/v1/coupons/{coupon_id}/{action}", headers={"Authorization": ""})
        assert_envelope(response, 401, "A001")
    topped = await client.post(f"/api/v1/coupons/{coupon_id}/stock", json={"add": 1}, headers={"Authorization": ""})
    assert_envelope(topped, 401, "A001")
    assert await state_of(client, coupon_id) == "open"


async def test_controls_on_a_missing_coupon_are_c001(client) -> None:
    for action in ("pause", "resume", "close"):
        assert_envelope(await client.post(f"/api/v1/coupons/999/{action}"), 404, "C001")
    assert_envelope(await client.post("/api/v1/coupons/999/stock", json={"add": 1}), 404, "C001")


async def test_top_up_raises_total_and_remaining(client) -> None:
    coupon_id = await make_coupon(client, total=1)
    assert (await issue(client, coupon_id, 1)).json()["code"] in {"200", "202"}
    topped = await client.post(f"/api/v1/coupons/{coupon_id}/stock", json={"add": 2})
    assert_envelope(topped, 200, "200")
    result = topped.json()["result"]
    assert (result["couponId"], result["totalQuantity"], result["added"]) == (coupon_id, 3, 2)
    assert "stock" in result  # the gate's stock after: 2 under lua; the database decides under pessimistic-lock
    raised = await client.post(f"/api/v1/coupons/{coupon_id}/stock", json={"totalQuantity": 4})
    assert raised.json()["result"]["added"] == 1
    view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
    assert (view["totalQuantity"], view["remaining"]) == (4, 3)
    assert (await issue(client, coupon_id, 2)).json()["code"] in {"200", "202"}


@pytest.mark.parametrize(
    "body", [{"add": 0}, {"add": -1}, {"totalQuantity": 1}, {"add": 1, "quantity": 1}, {"add": 1, "totalQuantity": 9}]
)
async def test_a_top_up_that_would_not_raise_the_total_is_g002(client, body: dict[str, int]) -> None:
    coupon_id = await make_coupon(client, total=2)
    assert_envelope(await client.post(f"/api/v1/coupons/{coupon_id}/stock", json=body), 400, "G002")
    assert (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]["totalQuantity"] == 2
