"""Fault drivers: real processes to kill and stop, MariaDB connections to `KILL`, and the drain/reconcile steps.

Every driver acts from outside, as an operator (or a crash) would: signals to processes,
`KILL <id>` to the database, a broker or Redis stopped. Tests then drain the pipeline and
hand what clients were told to the oracle.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import psutil  # type: ignore[import-untyped]

from fcfs import Settings
from fcfs.adapters.kafka.lag import KafkaConsumerLag
from fcfs.bootstrap.pipeline import PipelineContainer, consumer_heartbeat_path, open_reconcile
from fcfs.domain.errors import TemporaryFailure
from fcfs.domain.use_cases import ReconcileReport
from fcfs.entrypoints.demo import GRANTED
from fcfs.entrypoints.loadgen import BurstResult, Request, burst, issue_requests
from fcfs.entrypoints.runtime import stop
from tests.support.http_server import start_server
from tests.support.oracle import Claims
from tests.support.pipeline import issued_pairs, start_consumer

# --- processes ---------------------------------------------------------------------------------------------------


@dataclass
class ConsumerProcess:
    """`python -m fcfs.entrypoints.consumer` as a child; restartable, killable, stoppable with signals."""

    settings: Settings
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> ConsumerProcess:
        self.process = start_consumer(self.settings, self.log)
        self.starts += 1
        return self

    def signal(self, signum: int) -> None:
        assert self.process is not None and self.process.poll() is None, self.tail()
        self.process.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGCONT)
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            return None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def consumer_process(settings: Settings, log: Path) -> Iterator[ConsumerProcess]:
    consumer = ConsumerProcess(settings, log).start()
    try:
        yield consumer
    finally:
        consumer.stop()


@dataclass
class ApiServer:
    """`fcfs serve --workers N` as a child (granian: one master, N worker processes)."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    settings: Settings

    def workers(self) -> list[psutil.Process]:
        """The worker processes (children of the granian master), oldest first."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return sorted((child for child in children if "python" in child.name().lower()), key=lambda p: p.pid)

    def busiest_worker(self) -> psutil.Process:
        """The worker holding the most client connections right now (granian workers share one socket)."""
        port = int(self.base_url.rsplit(":", 1)[1])

        def load(worker: psutil.Process) -> int:
            established = [c for c in worker.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED]
            return sum(1 for c in established if c.laddr and c.laddr.port == port)

        return max(self.workers(), key=load)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@asynccontextmanager
async def api_server(settings: Settings, workers: int, log_dir: Path) -> AsyncIterator[ApiServer]:
    process, base_url = await asyncio.to_thread(start_server, settings, workers, log_dir)
    server = ApiServer(process, base_url, log_dir / "server.log", settings)
    try:
        yield server
    finally:
        for child in _children(process.pid):
            with contextlib.suppress(psutil.Error):
                child.resume()
        await asyncio.to_thread(stop, process)
        for child in _children(process.pid):
            with contextlib.suppress(psutil.Error):
                child.kill()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


# --- what clients were told ----------------------------------------------------------------------------------------


def user_of(request: Request) -> int:
    return int(msgspec.json.decode(request.body)["userId"])


def claims_of(result: BurstResult, requests: list[Request]) -> Claims:
    """Acked users (200/202) and the users of requests that got no answer at all (their outcome is unknown)."""
    acked = {user_of(request) for request, answer in result.answers if answer.code in GRANTED}
    unanswered = Counter(requests)
    unanswered.subtract(request for request, _ in result.answers)
    unknown = {user_of(request) for request, left in unanswered.items() if left > 0}
    return Claims(acked=acked, unknown=unknown)


@dataclass
class MidBurst:
    """A `burst`'s `on_answer` that starts `fault` once, at the `after`-th answer, so the fault lands mid-burst.

    The fault runs as a task beside the burst (the burst goes on meanwhile); `landed()` waits for it.
    """

    after: int
    fault: Callable[[], Awaitable[object]]
    answered: int = 0
    _started: list[asyncio.Future[object]] = field(default_factory=list)

    def __call__(self, count: int) -> None:
        self.answered += count
        if self.answered == self.after:
            self._started.append(asyncio.ensure_future(self.fault()))

    async def landed(self) -> None:
        await asyncio.gather(*self._started)


async def issue_burst(
    base_url: str, coupon_id: int, users: Iterable[int], concurrency: int
) -> tuple[BurstResult, Claims]:
    """Each user asks once for the coupon, `concurrency` at a time; the answers and what they claim."""
    requests = issue_requests(coupon_id, users)
    result = await burst(base_url, requests, concurrency=concurrency)
    return result, claims_of(result, requests)


async def persisted_burst(
    settings: Settings, base_url: str, coupon_id: int, users: Iterable[int], concurrency: int, log: Path
) -> tuple[BurstResult, Claims]:
    """`issue_burst` with a consumer running until every accepted user has a row; the consumer then stops."""
    with consumer_process(settings, log):
        result, claims = await issue_burst(base_url, coupon_id, users, concurrency)
        assert await wait_drained(settings, claims.acked), "the accepted users never all got their rows"
    return result, claims


def merge(*claims: Claims) -> Claims:
    merged = Claims(acked=set())
    for part in claims:
        merged.acked |= part.acked
        merged.unknown |= part.unknown
        merged.reconciled |= part.reconciled
        merged.over_cap |= part.over_cap
    return merged


# --- draining and reconciling --------------------------------------------------------------------------------------


async def consumer_lag(settings: Settings) -> int | None:
    """The group's lag on the topic (None: the broker cannot tell right now)."""
    try:
        return await KafkaConsumerLag(
            settings.kafka_bootstrap_servers, settings.topic, settings.consumer_group, timeout=5.0
        ).total_lag()
    except TemporaryFailure:
        return None


async def wait_drained(settings: Settings, expected: set[int], timeout: float = 90.0) -> bool:
    """Until every expected user has a row and the group has committed everything; False on timeout.

    The oracle runs after this either way: a timeout shows up as the users it lost.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        users = {user for _, user in await issued_pairs(settings.database_url)}
        if expected <= users and await consumer_lag(settings) == 0:
            await asyncio.sleep(0.3)  # a redelivery in flight must add nothing either; the oracle will tell
            return True
        await asyncio.sleep(0.25)
    return False


async def wait_lag_zero(settings: Settings, timeout: float = 60.0) -> bool:
    """Until the consumer group committed everything on the topic (rows or not); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await consumer_lag(settings) == 0:
            return True
        await asyncio.sleep(0.25)
    return False


async def reconcile(settings: Settings, coupon_id: int, *, dry_run: bool = False) -> ReconcileReport:
    """One `fcfs reconcile --coupon` run, wired as the CLI wires it."""
    container = PipelineContainer(settings=settings, heartbeat_path=consumer_heartbeat_path(settings))
    async with open_reconcile(settings, container) as run:
        return await run.execute(coupon_id, dry_run=dry_run)


async def reconcile_until_consistent(
    settings: Settings, coupon_id: int, timeout: float = 90.0
) -> tuple[set[int], ReconcileReport]:
    """Reconcile, drain, repeat until the report is consistent; returns every user it republished."""
    republished: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        report = await reconcile(settings, coupon_id)
        republished |= set(report.republished)
        if report.consistent or time.monotonic() > deadline:
            return republished, report
        await wait_drained(settings, republished, timeout=max(deadline - time.monotonic(), 1.0))


async def eventually_true(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.1) -> bool:
    """Poll an async predicate; False (not an exception) on timeout, so the caller's assert says what failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return False
