"""A scaled-out fcfs on loopback for tests: N API instances and N consumer processes over one Redis Cluster.

Everything here is observed from outside, as an operator would: answers over HTTP, rows in
MariaDB, keys in the cluster, and the consumers' own logs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import msgspec

from fcfs import Settings, open_services
from fcfs.bootstrap.pipeline import ensure_topics
from fcfs.entrypoints.demo import GRANTED
from fcfs.entrypoints.loadgen import BurstResult, Request, burst
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import settings_env, start_server
from tests.support.redis_cluster import coupon_slot

if TYPE_CHECKING:
    from fcfs.domain.use_cases import CouponAudit
    from tests.support.redis_cluster import RedisTestCluster

Pair = tuple[int, int]  # (coupon, user)
REFUSED = {"C002", "C003"}
NOTHING_ISSUED = {"S001", "S002", "S003"}  # temporary failures: nothing was issued, the user may retry


def scale_settings(
    *,
    database_url: str,
    cluster_url: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    prefix: str,
    data_dir: Path,
    **overrides: object,
) -> Settings:
    """lua-async on a Redis Cluster, as two API instances and their consumers share it."""
    values: dict[str, object] = {
        "database_url": database_url,
        "redis_url": cluster_url,
        "redis_cluster": True,
        "redis_prefix": prefix,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "topic": topics[0],
        "dead_letter_topic": topics[1],
        "topic_partitions": 6,
        "consumer_group": f"scale-{uuid.uuid4().hex[:8]}",
        "strategy": "lua-async",
        "instances": 2,
        "data_dir": str(data_dir),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


ClusterSettings = Callable[..., Settings]  # the scale suite's `cluster_settings(cluster, **overrides)`


@dataclass
class Deployment:
    """The processes of one scaled-out run; `close()` stops them all."""

    settings: Settings
    base_urls: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    consumers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def close(self) -> None:
        for process in [*self.servers, *self.consumers]:
            stop(process, timeout=30)

    async def burst(
        self,
        users: Sequence[int],
        coupons: Sequence[int],
        *,
        concurrency: int = 500,
        idempotency_keys: bool = False,
        on_answer: Callable[[int], None] | None = None,
    ) -> BurstResult:
        """Every user of `users` tries its coupon (`attempt_pairs`), spread over the instances, all at once."""
        requests = issue_requests(attempt_pairs(users, coupons), idempotency_keys=idempotency_keys)
        return await split_burst(self.base_urls, requests, concurrency, on_answer)

    async def drained_audits(self, coupons: Iterable[int], result: BurstResult) -> dict[int, CouponAudit]:
        """Each coupon's audit once every pair `result` granted has its row."""
        return await drained_audits(self.settings, coupons, granted_pairs(result))


@asynccontextmanager
async def deployed(
    settings: Settings, tmp_path: Path, *, instances: int, consumers: int = 0
) -> AsyncIterator[Deployment]:
    """The topics, `instances` API processes and `consumers` consumer processes (`consumer-1`, ...); all stopped on exit."""
    await ensure_topics(settings)
    deployment = Deployment(settings)
    try:
        await start_instances(deployment, instances, tmp_path)
        for number in range(1, consumers + 1):
            start_consumer(deployment, tmp_path, f"consumer-{number}")
        yield deployment
    finally:
        deployment.close()


async def start_instances(deployment: Deployment, count: int, tmp_path: Path) -> None:
    """`count` `fcfs serve --workers 1` processes, started side by side."""
    started = await asyncio.gather(
        *(asyncio.to_thread(start_server, deployment.settings, 1, tmp_path / f"api-{n}") for n in range(count))
    )
    for process, base_url in started:
        deployment.servers.append(process)
        deployment.base_urls.append(base_url)


def start_consumer(deployment: Deployment, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """`python -m fcfs.entrypoints.consumer` in the deployment's group, logging (JSON) to `<name>/consumer.log`."""
    data_dir = tmp_path / name
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FCFS_")}
    env |= settings_env(deployment.settings) | {"FCFS_DATA_DIR": str(data_dir)}
    with (data_dir / "consumer.log").open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fcfs.entrypoints.consumer"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deployment.consumers.append(process)
    return process


def assigned_partitions(tmp_path: Path, name: str) -> list[list[int]]:
    """Every assignment the consumer `name` logged, in order (its partition numbers)."""
    found = []
    for line in (tmp_path / name / "consumer.log").read_text().splitlines():
        if '"partitions_assigned"' not in line:
            continue
        entry = msgspec.json.decode(line)
        found.append(sorted(int(partition) for _, partition in entry["partitions"]))
    return found


def coupons_on_distinct_primaries(
    base_url: str, cluster: RedisTestCluster, count: int, stock: int, limit: int = 200
) -> dict[int, int]:
    """Create coupons until `count` of them live on different primaries; load those. Returns coupon → slot.

    Ids come from the database's auto-increment, so which primary a coupon lands on is found
    out, not chosen. The other coupons created on the way are left without stock.
    """
    chosen: dict[int, int] = {}
    owners: set[int] = set()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(limit):
            created = client.post("/api/v1/coupons", json={"name": "scale", "totalQuantity": stock})
            coupon_id = int(created.json()["result"]["id"])
            slot = coupon_slot(coupon_id)
            owner = cluster.owner(slot).port
            if owner in owners:
                continue
            owners.add(owner)
            chosen[coupon_id] = slot
            assert client.post(f"/api/v1/coupons/{coupon_id}/stock").status_code == 200
            if len(chosen) == count:
                return chosen
    raise AssertionError(f"no {count} coupons on distinct primaries among {limit}")


def attempt_pairs(users: Sequence[int], coupons: Sequence[int]) -> list[Pair]:
    """User `u` tries coupon `coupons[u % len(coupons)]`; a repeated user repeats that attempt."""
    return [(coupons[user % len(coupons)], user) for user in users]


def issue_requests(pairs: Iterable[Pair], *, idempotency_keys: bool = False) -> list[Request]:
    requests = []
    for coupon_id, user_id in pairs:
        headers = (("Idempotency-Key", uuid.uuid4().hex),) if idempotency_keys else ()
        requests.append(Request("POST", f"/api/v1/coupons/{coupon_id}/issue", b'{"userId":%d}' % user_id, headers))
    return requests


async def split_burst(
    base_urls: Sequence[str],
    requests: Sequence[Request],
    concurrency: int,
    on_answer: Callable[[int], None] | None = None,
) -> BurstResult:
    """Request i goes to instance i mod N (a user's repeat may land on the other one), all at once."""
    share = concurrency // len(base_urls)
    parts = await asyncio.gather(
        *(
            burst(base_url, requests[index :: len(base_urls)], concurrency=share, on_answer=on_answer)
            for index, base_url in enumerate(base_urls)
        )
    )
    merged = BurstResult(elapsed=max(part.elapsed for part in parts))
    for part in parts:
        merged.answers.extend(part.answers)
        merged.transport_errors.update(part.transport_errors)
    return merged


def pair_of(request: Request) -> Pair:
    coupon_id = int(request.path.split("/")[4])
    return coupon_id, int(msgspec.json.decode(request.body)["userId"])


def pairs_answered(result: BurstResult, codes: set[str]) -> set[Pair]:
    return {pair_of(request) for request, answer in result.answers if answer.code in codes}


def granted_pairs(result: BurstResult) -> set[Pair]:
    return pairs_answered(result, GRANTED)


async def drained_audits(
    settings: Settings, coupons: Iterable[int], granted: set[Pair], timeout: float = 120.0
) -> dict[int, CouponAudit]:
    """Audit each coupon once every granted pair has its row (or `timeout` passed)."""
    coupons = list(coupons)
    async with open_services(settings) as services, asyncio.timeout(timeout):
        while True:
            audits = {coupon_id: await services.audit_coupon.execute(coupon_id) for coupon_id in coupons}
            rows = {(coupon_id, user) for coupon_id, audit in audits.items() for user in audit.row_users}
            if granted <= rows:
                return audits
            await asyncio.sleep(0.2)


def assert_invariants(result: BurstResult, audits: dict[int, CouponAudit]) -> None:
    """docs/design.md §1 for every coupon, and no answer that the stores contradict."""
    codes = Counter(answer.code for _, answer in result.answers)
    unexpected = {code: n for code, n in codes.items() if code not in GRANTED | REFUSED | NOTHING_ISSUED}
    rows = {(coupon_id, user) for coupon_id, audit in audits.items() for user in audit.row_users}
    issued_anyway = len(pairs_answered(result, set(unexpected)) & rows)
    assert not unexpected, f"unexpected answers {unexpected}, {issued_anyway} of whose pairs hold a row"
    assert not result.transport_errors, f"transport errors {result.transport_errors}"
    granted, already = pairs_answered(result, GRANTED), pairs_answered(result, {"C002"})
    failed = pairs_answered(result, NOTHING_ISSUED) - granted - already
    for coupon_id, audit in audits.items():
        rows = {(coupon_id, user) for user in audit.row_users}
        ours = {pair for pair in granted if pair[0] == coupon_id}
        assert audit.rows <= audit.total_quantity, f"coupon {coupon_id}: {audit.rows} rows for {audit.total_quantity}"
        assert audit.duplicate_rows == 0, f"coupon {coupon_id}: {audit.duplicate_rows} duplicate rows"
        assert not ours - rows, f"coupon {coupon_id}: acked without row {sorted(ours - rows)[:5]}"
        assert not rows - ours, f"coupon {coupon_id}: rows without ack {sorted(rows - ours)[:5]}"
        assert audit.issued_quantity == audit.rows
        assert audit.gate_remaining is not None
        assert audit.gate_remaining + len(audit.gate_users) == audit.total_quantity, f"coupon {coupon_id}: conservation"
        assert {(coupon_id, user) for user in audit.gate_users} == rows, f"coupon {coupon_id}: gate users != rows"
        assert {pair for pair in already if pair[0] == coupon_id} <= rows, f"coupon {coupon_id}: C002 without a row"
        assert not {pair for pair in failed if pair[0] == coupon_id} & rows, f"coupon {coupon_id}: S00x yet issued"
