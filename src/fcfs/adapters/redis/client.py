"""Creating the Redis client, and the readiness check that pings it.

Choices every adapter here relies on:
- `decode_responses=False`: replies are bytes; the adapters parse ints and JSON from bytes
  (and accept str too, so a caller-made decoding client also works).
- No automatic retry of commands. redis-py would otherwise resend a command whose reply
  timed out, and a resent issue script answers "already issued" for the unit the first
  send granted. A failure surfaces once, as `GateError`, and the strategy decides.
- A burst beyond `max_connections` waits up to `timeout` for a free connection instead of
  failing at once: standalone through redis-py's blocking pool; in a cluster, whose per-node
  pools fail at once when exhausted, through a permit per in-flight command.
- Socket connect and read timeouts are `timeout`; idle connections are pinged before reuse
  after `health_check_interval`, so a restarted server costs no failed request.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from fcfs.domain.errors import GateError
from fcfs.ports.health import DependencyCheck

RedisClient: TypeAlias = "Redis | RedisCluster"

HEALTH_CHECK_INTERVAL = 15.0


def create_client(
    url: str, *, cluster: bool = False, max_connections: int = 200, timeout: float = 2.0
) -> Redis | RedisCluster:
    """A client for `url` (`redis://` or `rediss://`); with `cluster`, any node of the cluster."""
    shared: dict[str, Any] = {
        "max_connections": max_connections,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": False,
    }
    if cluster:
        # redis-py rebuilds its node table every 5th MOVED by closing every connection, including
        # ones other requests are using: during a reshard that turned admitted users into errors.
        # With 0, a MOVED only updates the slot map.
        return BoundedRedisCluster.from_url(url, permit_timeout=timeout, reinitialize_steps=0, **shared)
    pool = BlockingConnectionPool.from_url(url, timeout=timeout, **shared)
    return Redis.from_pool(pool)


class BoundedRedisCluster(RedisCluster):
    """A cluster client with at most `max_connections` commands in flight, the rest waiting.

    Each node's pool holds `max_connections`, so this bound keeps every pool within its size;
    a command that gets no permit within `permit_timeout` fails like an exhausted blocking pool.
    """

    def __init__(self, *args: Any, permit_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._permits = asyncio.Semaphore(kwargs.get("max_connections", 100))
        self._permit_timeout = permit_timeout

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            # Every caller waits for the first topology discovery; commands racing it would see their
            # connections closed under them, and with retries off that is a spurious failure.
            _ = await self.initialize()
        if self._permits.locked():
            try:
                await asyncio.wait_for(self._permits.acquire(), self._permit_timeout)
            except TimeoutError:
                raise RedisConnectionError("no connection available within the pool timeout") from None
        else:
            await self._permits.acquire()
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._permits.release()


class RedisHealthCheck(DependencyCheck):
    """Readiness: Redis answers PING within the client's socket timeout."""

    name = "redis"

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def check(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise GateError(f"redis did not answer PING: {exc}") from exc
