"""Cross-process locks in Redis: a lease bounds how long a crashed holder can block the others.

Both locks key on `<prefix>:{<name>}:lock` and raise `WaitTimedOut` when the lock is not had
within `wait_seconds`, `GateError` when Redis fails while acquiring. Releasing never raises:
the protected work has already happened and its outcome is what the caller must report. A
release that finds the lease expired (the holder overran `lease_seconds`, so mutual exclusion
may have been broken) is logged as a warning; the lease must exceed the critical section.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import TYPE_CHECKING, ClassVar

import structlog
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from fcfs.adapters.redis.errors import gate_errors
from fcfs.adapters.redis.keys import KeySpace
from fcfs.adapters.redis.scripting import script
from fcfs.domain.errors import GateError, WaitTimedOut
from fcfs.ports.locks import KeyedLock

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType

    from fcfs.adapters.redis.client import RedisClient

log = structlog.get_logger("fcfs.redis.locks")


class _LeasedLock(KeyedLock):
    """What both locks are made of: a client, a key space, a lease and a bounded wait."""

    def __init__(self, client: RedisClient, prefix: str, lease_seconds: float, wait_seconds: float) -> None:
        self._client = client
        self._keys = KeySpace(prefix)
        self._lease = lease_seconds
        self._wait = wait_seconds


class RedisDistributedLock(_LeasedLock):
    """redis-py's lock, Redisson-style: a lease (`SET NX PX`) and a bounded blocking wait.

    Waiters poll every `RETRY_INTERVAL` seconds; release is redis-py's compare-and-delete.
    """

    RETRY_INTERVAL: ClassVar[float] = 0.02

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        lock = Lock(
            self._client,
            self._keys.lock(key),
            timeout=self._lease,
            sleep=self.RETRY_INTERVAL,
            blocking_timeout=self._wait,
            thread_local=False,  # one event loop thread, many holders: the token lives on the instance
            raise_on_release_error=False,
        )
        return _DistributedHold(lock, key, self._wait)


class _DistributedHold:
    def __init__(self, lock: Lock, key: str, wait: float) -> None:
        self._lock = lock
        self._key = key
        self._wait = wait

    async def __aenter__(self) -> None:
        with gate_errors(f"acquire lock {self._key}"):
            acquired = await self._lock.acquire()
        if not acquired:
            raise WaitTimedOut(f"lock {self._key} not acquired within {self._wait}s")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._lock.release()
        except LockNotOwnedError:
            log.warning("lock_lease_expired_while_held", lock=self._key)
        except (RedisError, OSError) as error:
            log.warning("lock_release_failed", lock=self._key, error=repr(error))


class RedisSpinLock(_LeasedLock):
    """Lettuce-style spin lock: `SET key token NX PX lease`, retried with capped exponential backoff.

    The backoff doubles from `BACKOFF_INITIAL` to `BACKOFF_MAX` seconds and each sleep is jittered,
    so waiters spread out instead of hitting Redis in lockstep. Release is compare-and-delete
    (`unlock.lua`): a holder whose lease expired never deletes the next holder's lock.
    """

    BACKOFF_INITIAL: ClassVar[float] = 0.005
    BACKOFF_MAX: ClassVar[float] = 0.1

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        return _SpinHold(self, key, self._keys.lock(key))

    async def _acquire(self, key: str, name: str) -> str:
        """Spin until the lock `name` is ours (its token returned) or `wait_seconds` have passed."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        delay = self.BACKOFF_INITIAL
        lease_ms = max(int(self._lease * 1000), 1)
        while True:
            with gate_errors(f"acquire lock {key}"):
                if await self._client.set(name, token, nx=True, px=lease_ms):
                    return token
            left = deadline - loop.time()
            if left <= 0:
                raise WaitTimedOut(f"lock {key} not acquired within {self._wait}s")
            jittered = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311  (jitter, not security)
            await asyncio.sleep(min(jittered, left))
            delay = min(delay * 2, self.BACKOFF_MAX)

    async def _release(self, key: str, name: str, token: str) -> bool:
        """Delete the lock `name` only if `token` still owns it; False when the lease had expired."""
        try:
            with gate_errors(f"release lock {key}"):
                freed = await script("unlock").run(self._client, (name,), (token,))
        except GateError as error:  # the lease frees it; never mask the caller's outcome
            log.warning("lock_release_failed", lock=key, error=repr(error))
            return False
        if int(freed) != 1:
            log.warning("lock_lease_expired_while_held", lock=key)
            return False
        return True


class _SpinHold:
    def __init__(self, owner: RedisSpinLock, key: str, name: str) -> None:
        self._owner = owner
        self._key = key
        self._name = name
        self._token: str | None = None

    async def __aenter__(self) -> None:
        self._token = await self._owner._acquire(self._key, self._name)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            token, self._token = self._token, None
            await self._owner._release(self._key, self._name, token)
