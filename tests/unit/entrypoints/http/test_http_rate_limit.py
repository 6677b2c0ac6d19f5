"""Rate limits on issue: per user and per client address, 429 R001 with Retry-After; X-Forwarded-For only via trusted proxies."""

from __future__ import annotations

import pytest

from fcfs.adapters.memory.rate_limit import MemoryRateLimiter
from fcfs.bootstrap.container import open_memory_services
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.app import create_app
from fcfs.entrypoints.http.client_ip import TrustedProxies
from fcfs.ports.rate_limit import RateLimit
from tests.support.http_client import assert_envelope, concurrent_client, make_coupon

pytestmark = pytest.mark.usefixtures("both_issue_paths")


def app(**overrides: object):  # noqa: ANN201
    settings = Settings(strategy="lua", rate_limit_window_seconds=60, **overrides)  # type: ignore[arg-type]
    return create_app(settings, services=open_memory_services(settings))


async def test_a_user_past_the_limit_gets_429_r001_with_retry_after_and_nothing_is_attempted() -> None:
    async with concurrent_client(app(rate_limit_per_user=2)) as client:
        coupon_id = await make_coupon(client, total=100)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        assert_envelope(await client.post(url, json={"userId": 1}), 200, "200")
        assert_envelope(await client.post(url, json={"userId": 1}), 409, "C002")
        limited = await client.post(url, json={"userId": 1})
        assert_envelope(limited, 429, "R001")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert_envelope(await client.post(url, json={"userId": 2}), 200, "200")
        view = (await client.get(f"/api/v1/coupons/{coupon_id}")).json()["result"]
        assert view["issuedCount"] == 2


async def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    async with concurrent_client(app(rate_limit_per_ip=3), peer="198.51.100.7") as client:
        coupon_id = await make_coupon(client, total=100)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        codes = [
            (
                await client.post(url, json={"userId": user}, headers={"X-Forwarded-For": f"203.0.113.{user}"})
            ).status_code
            for user in range(1, 7)
        ]
        assert codes == [200, 200, 200, 429, 429, 429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client() -> None:
    settings = {"rate_limit_per_ip": 1, "trusted_proxies": "198.51.100.0/24"}
    async with concurrent_client(app(**settings), peer="198.51.100.7") as client:
        coupon_id = await make_coupon(client, total=100)
        url = f"/api/v1/coupons/{coupon_id}/issue"
        for user in range(1, 5):
            response = await client.post(url, json={"userId": user}, headers={"X-Forwarded-For": f"203.0.113.{user}"})
            assert_envelope(response, 200, "200")
        again = await client.post(url, json={"userId": 9}, headers={"X-Forwarded-For": "203.0.113.1"})
        assert_envelope(again, 429, "R001")


async def test_no_limit_configured_builds_no_limiter() -> None:
    settings = Settings(strategy="lua")
    async with open_memory_services(settings) as services:
        assert services.rate_limiter is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),  # untrusted peer: its own address
        ("10.0.0.5", ["203.0.113.1"], "203.0.113.1"),
        ("10.0.0.5", ["6.6.6.6, 203.0.113.1"], "203.0.113.1"),  # left of the first untrusted hop is forgeable
        ("10.0.0.5", ["203.0.113.1, 10.0.0.9"], "203.0.113.1"),  # a chain of trusted proxies is skipped
        ("10.0.0.5", ["203.0.113.1", "10.0.0.9"], "203.0.113.1"),  # repeated headers read as one list
        ("10.0.0.5", ["garbage, 10.0.0.9"], "10.0.0.9"),  # a broken hop: trust nothing beyond it
        ("10.0.0.5", [], "10.0.0.5"),
        ("::ffff:10.0.0.5", ["2001:db8::1"], "2001:db8::1"),  # IPv4-mapped peer is the IPv4 proxy
        ("testclient", ["203.0.113.1"], "unknown"),
        (None, [], "unknown"),
    ],
)
def test_client_address_believes_forwarded_for_only_from_trusted_proxies(
    peer: str | None, forwarded: list[str], expected: str
) -> None:
    assert TrustedProxies.parse("10.0.0.0/8, ::1").client(peer, forwarded) == expected


def test_a_malformed_trusted_proxy_fails_at_start_up() -> None:
    with pytest.raises(ValueError, match="FCFS_TRUSTED_PROXIES"):
        app(trusted_proxies="10.0.0.0/8, not-an-ip")


async def test_the_memory_limiter_opens_a_new_window_when_the_last_one_ends() -> None:
    now = [100.0]
    limiter = MemoryRateLimiter(window_seconds=10, now=lambda: now[0])
    limits = [RateLimit("u:1", 2)]
    assert [await limiter.hit(1, limits) for _ in range(3)] == [0.0, 0.0, 10.0]
    now[0] = 104.0
    assert await limiter.hit(1, limits) == 6.0
    assert await limiter.hit(2, limits) == 0.0  # another coupon, another window
    now[0] = 110.0
    assert await limiter.hit(1, limits) == 0.0


async def test_the_memory_limiter_refuses_when_any_limit_is_exceeded() -> None:
    limiter = MemoryRateLimiter(window_seconds=5, now=lambda: 0.0)
    assert await limiter.hit(1, [RateLimit("u:1", 5), RateLimit("ip:a", 1)]) == 0.0
    assert await limiter.hit(1, [RateLimit("u:2", 5), RateLimit("ip:a", 1)]) == 5.0
