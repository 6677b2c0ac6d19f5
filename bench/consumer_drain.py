"""How fast consumers drain a `coupon.issued` backlog into MariaDB, against what MariaDB itself takes.

    .venv/bin/python -m bench.consumer_drain [--events 200000] [--batch 2000] [--consumers 1,2,3] [--profile DIR]

Starts its own tansu broker and creates (then drops) its own database on the MariaDB at
`FCFS_BENCH_DATABASE_URL` (default `mysql+aiomysql://root@127.0.0.1:3306`). Two scenarios,
each published once to its own topic (3 partitions): every event for one hot coupon, and
the events spread over 3 coupons. For each, with 1, 2 and 3 consumer processes:

- the database's own limit: the same rows loaded by the `mariadb` command-line client into an
  `issued_coupon`-shaped table (the unique key in place) as `--batch`-row
  `INSERT … ON DUPLICATE KEY UPDATE` statements, one commit each: no Python driver involved;
- the consumers: separate processes, each the project's consumer (`KafkaBatchConsumer` over
  the pipeline container's `ProcessIssuedBatch`, as `fcfs consume` builds it), in a fresh
  group. They hold back their first poll until every one of them owns its partitions, so
  the figure is a stable group draining, not group joins; the clock runs from that go to
  the moment the database holds every row.

Prints events/s for both and consumer/database. Acceptance (issue #15): one hot coupon,
batch 2,000, one consumer ≥ 0.5 × the database; more consumers do not lower a hot coupon's
rate; with 3 coupons it rises.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fcfs.adapters.kafka.codec import encode_event, event_key
from fcfs.adapters.kafka.producer import open_producer
from fcfs.adapters.kafka.topics import ensure_topics
from fcfs.adapters.sql.engine import create_engine
from fcfs.adapters.sql.migrate import upgrade
from fcfs.adapters.sql.repositories import SqlCouponRepository
from fcfs.domain.coupon import NewCoupon
from fcfs.domain.events import CouponIssued
from fcfs.entrypoints.embedded import start_tansu

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 3
DLT = "bench.coupon.issued.dlt"


@dataclass(frozen=True)
class Row:
    scenario: str
    consumers: int
    consumer_rate: float
    database_rate: float


async def publish(bootstrap: str, topic: str, events: list[CouponIssued]) -> None:
    async with open_producer(bootstrap, linger_ms=20, request_timeout=60.0) as producer:
        for start in range(0, len(events), 5_000):
            sent = [
                await producer.send(topic, encode_event(event), key=event_key(event))
                for event in events[start : start + 5_000]
            ]
            await asyncio.gather(*sent)


def insert_script(events: list[CouponIssued], batch: int) -> str:
    """What the `mariadb` client runs: `batch`-row idempotent inserts, autocommit (one commit per statement)."""
    statements = []
    for start in range(0, len(events), batch):
        rows = ",".join(
            f"({e.coupon_id},{e.user_id},'{e.event_id}','{e.issued_at.replace(tzinfo=None).isoformat(' ')}')"
            for e in events[start : start + batch]
        )
        statements.append(
            f"INSERT INTO raw_issued (coupon_id,user_id,event_id,issued_at) VALUES {rows} "
            "ON DUPLICATE KEY UPDATE id = id;"
        )
    return "\n".join(statements) + "\n"


def database_rate(server_url: str, database: str, script: Path, rows: int) -> float:
    url = make_url(server_url)
    argv = ["mariadb", "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306), "-u", url.username or "root"]
    if url.password:
        argv.append(f"-p{url.password}")
    subprocess.run([*argv, database, "-e", "TRUNCATE TABLE raw_issued"], check=True)
    with script.open("rb") as stdin:
        started = time.perf_counter()
        subprocess.run([*argv, database], stdin=stdin, check=True)
        elapsed = time.perf_counter() - started
    return rows / elapsed


async def reset(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE TABLE issued_coupon"))
        await conn.execute(text("UPDATE coupon SET issued_quantity = 0"))


async def persisted(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT COALESCE(SUM(issued_quantity), 0) FROM coupon"))).scalar_one())


async def drain(engine: AsyncEngine, database_url: str, bootstrap: str, topic: str, consumers: int, total: int,
                batch: int, workdir: Path, profile: Path | None = None) -> float:  # fmt: skip
    """Events/s of `consumers` processes, from the moment the whole group owns its partitions to the last row."""
    await reset(engine)
    group = f"bench-{uuid.uuid4().hex[:8]}"
    go = workdir / f"{group}.go"
    argv = [sys.executable, "-m", "bench.consumer_drain", "--worker", "--database-url", database_url,
            "--bootstrap", bootstrap, "--topic", topic, "--group", group, "--batch", str(batch), "--go", str(go),
            "--data-dir", str(workdir / group)]  # fmt: skip
    workers = [
        subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=(workdir / f"{group}-{n}.log").open("wb"))
        for n in range(consumers)
    ]
    spies = [_spy(worker.pid, profile, f"{topic}-{consumers}-{n}") for n, worker in enumerate(workers) if profile]
    try:
        await _until_assigned(workers)
        go.touch()
        started = time.perf_counter()
        while await persisted(engine) < total:
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError(f"a consumer exited early; see {workdir}")
            await asyncio.sleep(0.01)
        return total / (time.perf_counter() - started)
    finally:
        for worker in workers:
            worker.terminate()
        for process in [*workers, *spies]:
            process.wait(30)


def _spy(pid: int, profile: Path, name: str) -> subprocess.Popen[bytes]:
    """`py-spy record` on a consumer until it exits: folded stacks in `profile`/`name`.folded."""
    profile.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [spy, "record", "--format", "raw", "--rate", "200", "--pid", str(pid), "-o", str(profile / f"{name}.folded")]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _until_assigned(workers: list[subprocess.Popen[bytes]], timeout: float = 90.0) -> None:
    """Until every worker's latest report names its own partitions and together they cover the topic."""
    latest: dict[int, frozenset[int]] = {}
    loop = asyncio.get_running_loop()
    readers = {
        index: loop.run_in_executor(None, worker.stdout.readline)  # type: ignore[union-attr]
        for index, worker in enumerate(workers)
    }
    deadline = time.monotonic() + timeout
    while True:
        done, _ = await asyncio.wait(readers.values(), timeout=max(deadline - time.monotonic(), 0.1),
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if not done:
            raise TimeoutError("consumers did not settle their partitions")
        for index, reader in list(readers.items()):
            if reader in done:
                line = reader.result().decode().split()
                if line[:1] == ["assigned"]:
                    latest[index] = frozenset(int(p) for p in line[1:])
                readers[index] = loop.run_in_executor(None, workers[index].stdout.readline)  # type: ignore[union-attr]
        owned = [latest.get(index, frozenset()) for index in range(len(workers))]
        if all(owned) and sum(map(len, owned)) == PARTITIONS and len(frozenset().union(*owned)) == PARTITIONS:
            for reader in readers.values():
                reader.cancel()
            return


async def main(events_count: int, batch: int, consumer_counts: list[int], profile: Path | None) -> None:
    server = os.environ.get("FCFS_BENCH_DATABASE_URL", "mysql+aiomysql://root@127.0.0.1:3306")
    name = f"fcfs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}`"))
    workdir = Path(tempfile.mkdtemp(prefix="fcfs-drain-"))
    broker = start_tansu(workdir)
    bootstrap = f"127.0.0.1:{broker.port}"
    database_url = f"{server}/{name}"
    engine = create_engine(database_url, pool_size=2)
    rows: list[Row] = []
    try:
        await upgrade(database_url)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE raw_issued LIKE issued_coupon"))
        for scenario, coupons in (("1 hot coupon", 1), ("3 coupons", 3)):
            topic = f"bench.coupon.issued.{coupons}"
            await ensure_topics(bootstrap, {topic: PARTITIONS, DLT: PARTITIONS})
            repository = SqlCouponRepository(engine)
            ids = [(await repository.add(NewCoupon("bench", events_count))).id for _ in range(coupons)]
            now = datetime.now(UTC)
            events = [CouponIssued(str(uuid.uuid4()), ids[user % coupons], user, now) for user in range(1, events_count + 1)]  # fmt: skip
            started = time.perf_counter()
            await publish(bootstrap, topic, events)
            print(f"{scenario}: published {events_count:,} events in {time.perf_counter() - started:.1f} s", flush=True)
            script = workdir / f"raw-{coupons}.sql"
            script.write_text(insert_script(events, batch))
            for consumers in consumer_counts:
                database = database_rate(server, name, script, events_count)
                consumed = await drain(
                    engine, database_url, bootstrap, topic, consumers, events_count, batch, workdir, profile
                )
                rows.append(Row(scenario, consumers, consumed, database))
                print(f"  {consumers} consumer(s): {consumed:,.0f}/s; database {database:,.0f}/s", flush=True)
    finally:
        await engine.dispose()
        broker.stop()
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    report(events_count, batch, rows)


def report(events_count: int, batch: int, rows: list[Row]) -> None:
    print(f"\n{events_count:,} events, batch {batch:,}, {PARTITIONS} partitions, MariaDB; events/s")
    print(f"{'scenario':<14} {'consumers':>9} {'consumer':>10} {'database':>10} {'consumer/database':>18}")
    for row in rows:
        ratio = row.consumer_rate / row.database_rate
        print(f"{row.scenario:<14} {row.consumers:>9} {row.consumer_rate:>10,.0f} {row.database_rate:>10,.0f} {ratio:>18.2f}")  # fmt: skip


# --- one consumer process ------------------------------------------------------------------------------------------


async def worker(args: Any) -> None:
    """The pipeline container's consumer, whose first poll waits for the go file (reporting its partitions until then)."""
    import signal

    from aiokafka import AIOKafkaConsumer

    from fcfs.adapters.kafka.consumer import KafkaBatchConsumer
    from fcfs.bootstrap.pipeline import open_consumer_services
    from fcfs.bootstrap.settings import Settings
    from fcfs.entrypoints.consumer import tune_consumer_gc

    go = Path(args.go)

    class HeldBack(AIOKafkaConsumer):  # type: ignore[misc]
        reported: frozenset[int] | None = None

        async def getmany(self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None) -> Any:
            if go.exists():
                return await super().getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)
            owned = frozenset(tp.partition for tp in self.assignment())
            if owned != self.reported:
                self.reported = owned
                print("assigned", *sorted(owned), flush=True)
            await asyncio.sleep(0.02)
            return {}

    settings = Settings(database_url=args.database_url, kafka_bootstrap_servers=args.bootstrap, topic=args.topic,
                        dead_letter_topic=DLT, consumer_group=args.group, consumer_batch=args.batch,
                        data_dir=args.data_dir, log_level="warning")  # fmt: skip
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with open_consumer_services(settings) as services:
        tune_consumer_gc()  # as `fcfs consume` does once its services are open
        consumer = KafkaBatchConsumer(
            bootstrap_servers=args.bootstrap, topic=args.topic, group_id=args.group,
            handler=services.process_batch.execute, batch_size=args.batch, poll_timeout=0.1,
            client_factory=lambda: HeldBack(
                bootstrap_servers=args.bootstrap, group_id=args.group, enable_auto_commit=False,
                auto_offset_reset="earliest", max_poll_records=args.batch,
            ),
        )  # fmt: skip
        await consumer.run(stop)


def parse() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--consumers", default="1,2,3")
    parser.add_argument("--profile", type=Path, help="record each consumer with py-spy into this directory")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for option in ("--database-url", "--bootstrap", "--topic", "--group", "--go", "--data-dir"):
        parser.add_argument(option, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse()
    if args.worker:
        import uvloop

        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(worker(args))
    else:
        asyncio.run(main(args.events, args.batch, [int(n) for n in args.consumers.split(",")], args.profile))
