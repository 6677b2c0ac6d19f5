"""Idempotency-Key on the memory twin: one attempt per key, the first answer replayed to everyone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fcfs.adapters.memory.idempotency import MemoryIdempotencyStore
from fcfs.bootstrap.container import Services, open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.domain.errors import SystemBusy
from fcfs.domain.issuance import IssueCommand, IssueOutcome
from fcfs.entrypoints.http.app import create_app
from fcfs.ports.idempotency import StoredAnswer
from tests.support.http_client import assert_envelope, concurrent_client, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")


class CountingIssue:
    """The real use case behind a counter and a pause, so duplicates arrive while the first is in flight."""

    def __init__(self, inner, pause: float, failures: list[Exception], attempts: list[IssueCommand]) -> None:  # noqa: ANN001
        self.inner = inner
        self.pause = pause
        self.failures = failures
        self.attempts = attempts

    async def execute(self, command: IssueCommand, strategy: str | None = None) -> IssueOutcome:
        self.attempts.append(command)
        await asyncio.sleep(self.pause)
        if self.failures:
            raise self.failures.pop(0)
        return await self.inner.execute(command, strategy)


def counted_app(
    settings: Settings, pause: float = 0.05, failures: list[Exception] | None = None
) -> tuple[Litestar, list[IssueCommand]]:
    """The memory app with its issue use case behind `CountingIssue`; the list holds every attempt it made."""
    attempts: list[IssueCommand] = []

    @asynccontextmanager
    async def services() -> AsyncIterator[Services]:
        async with open_memory_services(settings) as opened:
            counting = CountingIssue(opened.issue_coupon, pause, failures or [], attempts)
            yield dataclasses.replace(opened, issue_coupon=counting)

    return create_app(settings, services=services()), attempts


def issue(client: AsyncTestClient, coupon_id: int, user: int, key: str | None):  # type: ignore[type-arg]  # noqa: ANN201
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(f"/api/v1/coupons/{coupon_id}/issue", json={"userId": user}, headers=headers)


async def under_way(request: Coroutine[Any, Any, Response]) -> asyncio.Task[Response]:
    """The first request, sent and given 0.1 s to claim its key, so the next one meets it in flight."""
    first = asyncio.create_task(request)
    await asyncio.sleep(0.1)
    return first


async def test_fifty_parallel_requests_with_one_key_make_one_attempt_and_get_identical_answers() -> None:
    settings = Settings(strategy="lua")
    app, attempts = counted_app(settings)
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client, total=5)
        answers = await asyncio.gather(*(issue(client, coupon_id, 7, "order-7") for _ in range(50)))
        assert len(attempts) == 1
        assert {(answer.status_code, answer.content) for answer in answers} == {
            (answers[0].status_code, answers[0].content)
        }
        assert_envelope(answers[0], 200, "200")
        assert sum(answer.headers.get("Idempotent-Replayed") == "true" for answer in answers) == 49
        view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
        assert (view["issuedCount"], view["remaining"]) == (1, 4)


async def test_the_key_is_scoped_to_the_coupon() -> None:
    settings = Settings(strategy="lua")
    app, attempts = counted_app(settings, pause=0)
    async with AsyncTestClient(app) as client:
        coupon_id = await make_coupon(client, total=5)
        other_coupon = await make_coupon(client, total=5)
        first = await issue(client, coupon_id, 1, "same")
        third = await issue(client, other_coupon, 1, "same")
        assert [answer.json()["result"]["userId"] for answer in (first, third)] == [1, 1]
        assert len(attempts) == 2


# Item 13: the key reused for a different request is refused (IETF idempotency-key draft: 422), and a
# refusal that decided nothing is not stored for the corrected retry.


async def test_the_key_reused_with_another_body_user_is_422_and_attempts_nothing() -> None:
    settings = Settings(strategy="lua")
    app, attempts = counted_app(settings, pause=0)
    async with AsyncTestClient(app) as client:
        coupon_id = await make_coupon(client, total=5)
        assert_envelope(await issue(client, coupon_id, 1, "same"), 200, "200")
        reused = await issue(client, coupon_id, 2, "same")
        assert_envelope(reused, 422, "G007")
        assert "Idempotent-Replayed" not in reused.headers
        assert len(attempts) == 1
        state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/2")
        assert state.json()["result"]["state"] == "none"


async def test_the_key_reused_while_the_first_is_in_flight_with_another_body_is_422_at_once() -> None:
    settings = Settings(strategy="lua", idempotency_wait_seconds=5)
    app, attempts = counted_app(settings, pause=0.3)
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        first = await under_way(issue(client, coupon_id, 1, "busy"))
        assert_envelope(await issue(client, coupon_id, 2, "busy"), 422, "G007")
        assert not first.done()  # refused without waiting for the first answer
        assert_envelope(await first, 200, "200")
        assert len(attempts) == 1


async def test_the_same_request_spelled_differently_is_replayed() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        headers = {"Idempotency-Key": "k", "Content-Type": "application/json"}
        first = await client.post(url, content=b'{"userId":5}', headers=headers)
        again = await client.post(url, content=b'{ "userId" : 5 }', headers=headers)
        assert_envelope(first, 200, "200")
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["Idempotent-Replayed"] == "true"


async def test_the_key_reused_with_another_strategy_is_422() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        headers = {"Idempotency-Key": "k"}
        assert_envelope(await client.post(url, json={"userId": 5}, headers=headers), 200, "200")
        other = await client.post(f"{url}?strategy=pessimistic-lock", json={"userId": 5}, headers=headers)
        assert_envelope(other, 422, "G007")


async def test_an_unknown_strategy_is_not_replayed_to_the_corrected_retry() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        headers = {"Idempotency-Key": "fix-me"}
        assert_envelope(await client.post(f"{url}?strategy=bogus", json={"userId": 5}, headers=headers), 400, "C004")
        assert_envelope(await client.post(f"{url}?strategy=bogus", json={"userId": 5}, headers=headers), 400, "C004")
        corrected = await client.post(f"{url}?strategy=lua", json={"userId": 5}, headers=headers)
        assert_envelope(corrected, 200, "200")
        assert "Idempotent-Replayed" not in corrected.headers


async def test_with_user_tokens_each_user_has_their_own_keys() -> None:
    import time

    import jwt

    secret = "s" * 32
    settings = Settings(strategy="lua", user_token_secret=secret)
    app, attempts = counted_app(settings, pause=0)

    def as_user(user: int) -> dict[str, str]:
        signed = jwt.encode({"sub": str(user), "exp": int(time.time()) + 60}, secret, algorithm="HS256")
        return {"Authorization": f"Bearer {signed}", "Idempotency-Key": "same"}

    async with AsyncTestClient(app) as client:
        coupon_id = await make_coupon(client)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        answers = [await client.post(url, json={}, headers=as_user(user)) for user in (1, 2, 1)]
        assert [answer.json()["result"]["userId"] for answer in answers] == [1, 2, 1]
        assert answers[2].headers["Idempotent-Replayed"] == "true"
        assert len(attempts) == 2


async def test_a_replay_returns_the_first_answer_even_after_the_state_changed() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client, total=1)
        first = await issue(client, coupon_id, 1, "k")
        again_without_key = await issue(client, coupon_id, 1, None)
        again_with_key = await issue(client, coupon_id, 1, "k")
        assert_envelope(first, 200, "200")
        assert_envelope(again_without_key, 409, "C002")
        assert (again_with_key.status_code, again_with_key.content) == (first.status_code, first.content)


async def test_an_undecided_answer_is_not_stored_so_a_retry_attempts_again() -> None:
    settings = Settings(strategy="lua")
    app, attempts = counted_app(settings, pause=0, failures=[SystemBusy("bulkhead full")])
    async with AsyncTestClient(app) as client:
        coupon_id = await make_coupon(client)
        assert_envelope(await issue(client, coupon_id, 3, "retry-me"), 503, "S002")
        assert_envelope(await issue(client, coupon_id, 3, "retry-me"), 200, "200")
        assert_envelope(await issue(client, coupon_id, 3, "retry-me"), 200, "200")
        assert len(attempts) == 2


async def test_a_duplicate_that_waits_too_long_is_408_s003_and_the_first_still_wins() -> None:
    settings = Settings(strategy="lua", idempotency_wait_seconds=0.05)
    app, attempts = counted_app(settings, pause=0.5)
    async with concurrent_client(app) as client:
        coupon_id = await make_coupon(client)
        first = await under_way(issue(client, coupon_id, 4, "slow"))
        assert_envelope(await issue(client, coupon_id, 4, "slow"), 408, "S003")
        assert_envelope(await first, 200, "200")
        assert len(attempts) == 1


@pytest.mark.parametrize("key", ["x" * 129, "tab\there", "caf\u00e9", "new\nline"])
async def test_a_malformed_key_is_400_g002(key: str) -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client)
        response = await client.post(
            f"/api/v1/coupons/{coupon_id}/issue",
            json={"userId": 1},
            headers=[(b"Idempotency-Key", key.encode("utf-8"))],
        )
        assert_envelope(response, 400, "G002")
        state = await client.get(f"/api/v1/coupons/{coupon_id}/issued/1")
        assert state.json()["result"]["state"] == "none"


async def test_the_longest_printable_key_is_accepted() -> None:
    settings = Settings(strategy="lua")
    async with AsyncTestClient(create_app(settings, services=open_memory_services(settings))) as client:
        coupon_id = await make_coupon(client)
        assert_envelope(await issue(client, coupon_id, 1, "~ {}" * 32), 200, "200")


async def test_the_memory_store_expires_answers_and_dead_claims() -> None:
    now = [0.0]
    store = MemoryIdempotencyStore(answer_ttl=10, pending_ttl=2, now=lambda: now[0])
    claim = await store.claim(1, 1, "k")
    assert claim.token is not None
    assert (await store.claim(1, 1, "k")).in_flight
    now[0] = 3.0  # the claimant died: its claim lapsed
    retaken = await store.claim(1, 1, "k")
    assert retaken.token is not None
    await store.settle(1, 1, "k", claim.token, StoredAnswer(200, b"stale"))  # the lapsed claim settles nothing
    await store.settle(1, 1, "k", retaken.token, StoredAnswer(200, b"{}"))
    assert (await store.claim(1, 1, "k")).answer == StoredAnswer(200, b"{}")
    now[0] = 14.0
    assert (await store.claim(1, 1, "k")).token is not None


async def test_the_memory_store_refuses_a_claim_with_another_fingerprint() -> None:
    store = MemoryIdempotencyStore(answer_ttl=10, pending_ttl=2)
    claim = await store.claim(1, 0, "k", "first")
    assert claim.token is not None
    assert (await store.claim(1, 0, "k", "second")).conflict  # in flight
    assert (await store.claim(1, 0, "k", "first")).in_flight
    await store.settle(1, 0, "k", claim.token, StoredAnswer(200, b"{}"))
    assert (await store.claim(1, 0, "k", "second")).conflict  # answered
    assert (await store.claim(1, 0, "k", "first")).answer == StoredAnswer(200, b"{}")
